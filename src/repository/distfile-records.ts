import type { UriLift } from './src-uri.js';

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

/** One of eight shared objects; `nomirror` is the old spelling of `mirror`. */
export function restrictFlagsOf(tokens: ReadonlySet<string>): RestrictFlags {
  const bits =
    (tokens.has('fetch') ? 1 : 0) |
    (tokens.has('mirror') || tokens.has('nomirror') ? 2 : 0) |
    (tokens.has('primaryuri') ? 4 : 0);
  return RESTRICT_FLAGS[bits];
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

  compact(name: string, value: UrisValue): UrisValue {
    if (typeof value !== 'string') return value;
    const cut = value.length - name.length;
    if (cut < 2 || value.charCodeAt(cut - 1) !== 0x2f || !value.endsWith(name)) return value;
    const prefix = value.slice(0, cut);
    const known = this.known.get(prefix);
    if (known !== undefined) return known;
    this.known.set(prefix, prefix);
    return prefix;
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

/** Size and lowercase hex digests, as a DistfileEntry has them. */
export interface DistValue {
  readonly size: number;
  readonly BLAKE2B?: string;
  readonly SHA512?: string;
}

const packBuffer = Buffer.alloc(160);

/**
 * A DIST line's size and digests as one latin1 string: a flags digit (1 BLAKE2B, 2 SHA512),
 * the size, `:`, then the raw digest bytes. One string per distinct line, half the heap of hex.
 */
export function packDist(size: number, blake2b: Buffer | undefined, sha512: Buffer | undefined): string {
  const flags = (blake2b ? 1 : 0) | (sha512 ? 2 : 0);
  let at = packBuffer.write(`${flags}${size}:`, 0, 'latin1');
  if (blake2b) at += blake2b.copy(packBuffer, at);
  if (sha512) at += sha512.copy(packBuffer, at);
  return packBuffer.toString('latin1', 0, at);
}

export function unpackDist(packed: string): DistValue {
  const flags = packed.charCodeAt(0) - 0x30;
  const colon = packed.indexOf(':');
  const size = Number(packed.slice(1, colon));
  const raw = Buffer.from(packed.slice(colon + 1), 'latin1');
  const blake2b = flags & 1 ? raw.subarray(0, 64).toString('hex') : undefined;
  const sha512 = flags & 2 ? raw.subarray(flags & 1 ? 64 : 0).toString('hex') : undefined;
  return { size, ...(blake2b && { BLAKE2B: blake2b }), ...(sha512 && { SHA512: sha512 }) };
}

/**
 * The DIST lines of every Manifest naming the file, merged: equal sizes and, per algorithm,
 * equal digests (one Manifest may lack an algorithm another has). Else a conflict, explained.
 */
export function mergeDists(
  name: string,
  owners: readonly ManifestOwner[],
  dists: Shared<string> | undefined,
): { merged?: DistValue; conflict?: string } {
  if (dists === undefined) return {};
  if (!(dists instanceof PerSource)) return { merged: unpackDist(dists) };
  const values = dists.values.map(unpackDist);
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

/**
 * Everything known about one distfile name. Only FileMapBuilder writes to it, and only while
 * the refresh that made it runs: once in a snapshot it never changes.
 */
export class FileRecord {
  constructor(
    readonly name: string,
    /** Repository order, then category and PF. */
    public sources: OneOrMany<PackageRecord>,
    public uris: Shared<UrisValue>,
    /** Repository order, then package path. */
    public owners: OneOrMany<ManifestOwner>,
    public dists: Shared<string> | undefined,
  ) {}

  get conflict(): string | undefined {
    return this.dists instanceof PerSource
      ? mergeDists(this.name, manyToArray(this.owners), this.dists).conflict
      : undefined;
  }
}
