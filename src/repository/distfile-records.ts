import { type DistHandle, DistStore, type DistValue } from './dist-store.js';
import type { UriLift } from './src-uri.js';

export type { DistValue } from './dist-store.js';

// The compact shapes the index keeps in memory (::gentoo: ~100k files, ~500k package references).
// DistfileSnapshot turns them into the public DistfileEntry on lookup.

/** RESTRICT tokens of the package (every USE branch). `fetch` implies `mirror` for Portage. */
export interface RestrictFlags {
  readonly fetch: boolean;
  readonly mirror: boolean;
  readonly primaryuri: boolean;
}

const RESTRICT_FLAGS: RestrictFlags[] = Array.from({ length: 8 }, (_, bits) =>
  Object.freeze({ fetch: (bits & 1) !== 0, mirror: (bits & 2) !== 0, primaryuri: (bits & 4) !== 0 }),
);

export const NO_RESTRICT = RESTRICT_FLAGS[0];

/**
 * One of eight shared objects, from bits 1 fetch, 2 mirror (or `nomirror`, its old spelling),
 * 4 primaryuri: md5Packer finds them on the reader thread.
 */
export function restrictFlagsOfBits(bits: number): RestrictFlags {
  return RESTRICT_FLAGS[bits & 7];
}

/** An md5-cache entry that names distfiles. */
export interface PackageRecord {
  readonly repo: string;
  readonly category: string;
  /** `<category>/<PF>`. */
  readonly cpv: string;
  readonly restrict: RestrictFlags;
}

/** A package directory whose Manifest has DIST lines. */
export interface ManifestOwner {
  readonly repo: string;
  readonly category: string;
  /** `<category>/<PN>`. */
  readonly path: string;
}

/** One package's URIs for one file when some carry a `fetch+`/`mirror+` prefix. */
export class LiftedUris {
  constructor(
    readonly uris: readonly string[],
    readonly lifts: readonly (UriLift | undefined)[],
  ) {}
}

/**
 * As written in SRC_URI, mirror:// unexpanded (a new thirdpartymirrors needs no rebuild). A
 * string ending in `/` is a prefix that the file's name completes (see UriPrefixes): no URI in
 * a SRC_URI ends in `/`, it would name no file.
 */
export type UrisValue = string | readonly string[] | LiftedUris | undefined;

/** The stored value with a prefix completed by the file's name. */
export function fullUris(value: UrisValue, name: string): UrisValue {
  return typeof value === 'string' && value.endsWith('/') ? value + name : value;
}

/**
 * Most URIs are `<prefix>/<the file's name>`, and the files of one package or one host share a
 * prefix (::gentoo-sized tree: 2,106 prefixes for 154k such URIs). One string per prefix, the
 * name kept once as the map key, spares ~75 bytes and a heap object per file.
 */
export class UriPrefixes {
  private readonly known = new Map<string, string>();
  /** Files of one package mostly come one after the other: a compare spares hashing a slice. */
  private last = '';

  compact(name: string, value: UrisValue): UrisValue {
    if (typeof value !== 'string') return value;
    const cut = value.length - name.length;
    if (cut < 2 || value.charCodeAt(cut - 1) !== 0x2f || !value.endsWith(name)) return value;
    if (cut === this.last.length && value.startsWith(this.last)) return this.last;
    return this.intern(value.slice(0, cut));
  }

  /**
   * The shared prefix string of the UTF-8 bytes `src[start, end)`, a prefix compact() would cut
   * (md5Packer checked that). The same as the last one is found without decoding.
   */
  compactBytes(src: Buffer, start: number, end: number): string {
    const last = this.last;
    if (last.length === end - start) {
      let i = 0;
      while (i < last.length && last.charCodeAt(i) === src[start + i]) i++;
      if (i === last.length) return last;
    }
    return this.intern(src.toString('utf8', start, end));
  }

  private intern(prefix: string): string {
    let known = this.known.get(prefix);
    if (known === undefined) {
      known = prefix;
      this.known.set(prefix, prefix);
    }
    this.last = known;
    return known;
  }
}

/** Values per source (or per Manifest) where they differ; one shared value where they agree. */
export class PerSource<T> {
  constructor(readonly values: readonly T[]) {}
}

export type Shared<T> = T | PerSource<T>;

export function valueAt<T>(value: Shared<T>, i: number): T {
  return value instanceof PerSource ? value.values[i] : value;
}

/** Several, or one without an array around it (most files have one source and one DIST line). */
export type OneOrMany<T> = T | readonly T[] | undefined;

export function manyToArray<T>(value: OneOrMany<T>): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** How many values, without the array manyToArray makes around a single one (hot in index builds). */
export function countOf<T>(many: OneOrMany<T>): number {
  return many === undefined ? 0 : Array.isArray(many) ? many.length : 1;
}

/** The last value of a non-empty OneOrMany. */
export function lastOf<T>(many: OneOrMany<T>): T {
  return Array.isArray(many) ? (many as readonly T[])[many.length - 1] : (many as T);
}

export function urisOf(value: UrisValue): {
  uris: readonly string[];
  lifts?: readonly (UriLift | undefined)[];
} {
  if (value instanceof LiftedUris) return value;
  return { uris: value === undefined ? [] : typeof value === 'string' ? [value] : value };
}

export function sameUris(a: UrisValue, b: UrisValue): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string' || a === undefined || b === undefined) return false;
  const x = urisOf(a);
  const y = urisOf(b);
  return sameList(x.uris, y.uris) && sameList(x.lifts ?? [], y.lifts ?? []);
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * The DIST lines of every Manifest naming the file, merged: equal sizes and, per algorithm,
 * equal digests (one Manifest may lack an algorithm another has). Else a conflict, explained.
 */
export function mergeDists(
  name: string,
  owners: readonly ManifestOwner[],
  dists: Shared<DistHandle> | undefined,
  store: DistStore,
): { merged?: DistValue; conflict?: string } {
  if (dists === undefined) return {};
  if (!(dists instanceof PerSource)) return { merged: store.unpack(dists) };
  const values = dists.values.map((handle) => store.unpack(handle));
  let { size, BLAKE2B, SHA512 } = values[0];
  for (const value of values) {
    const agree =
      value.size === size &&
      (BLAKE2B === undefined || value.BLAKE2B === undefined || value.BLAKE2B === BLAKE2B) &&
      (SHA512 === undefined || value.SHA512 === undefined || value.SHA512 === SHA512);
    if (!agree) {
      const claims = values.map((claim, i) => {
        const said = [
          `${claim.size} bytes`,
          claim.BLAKE2B && `BLAKE2B ${claim.BLAKE2B.slice(0, 16)}…`,
          claim.SHA512 && `SHA512 ${claim.SHA512.slice(0, 16)}…`,
        ];
        return `${owners[i].repo}::${owners[i].path} says ${said.filter(Boolean).join(' ')}`;
      });
      return { conflict: `Manifests disagree about ${name}: ${claims.join('; ')}` };
    }
    size = value.size;
    BLAKE2B ??= value.BLAKE2B;
    SHA512 ??= value.SHA512;
  }
  return { merged: { size, ...(BLAKE2B && { BLAKE2B }), ...(SHA512 && { SHA512 }) } };
}
