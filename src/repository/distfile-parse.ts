import type { DistHandle, DistStore } from './dist-store.js';
import { LiftedUris, type UrisValue, urisOf } from './distfile-records.js';
import { forEachDistLine } from './manifest.js';
import type { SrcUriItem, UriLift } from './src-uri.js';

// From parsed md5-cache entries and Manifests to what the index keeps.

const BLAKE2B = Buffer.from('BLAKE2B');
const SHA512 = Buffer.from('SHA512');
const DIGEST = 64;

/**
 * One value per distinct name, URIs in SRC_URI order, exact repeats (same name, URI and lift)
 * dropped. Most names come once: no array for them.
 */
export function filesOf(items: readonly SrcUriItem[]): { names: string[]; uris: UrisValue[] } {
  const names: string[] = [];
  const uris: UrisValue[] = [];
  // A Map only for long lists: most entries name a few files, and a Map per entry adds up.
  const at = items.length > 16 ? new Map<string, number>() : undefined;
  for (const item of items) {
    const i = at ? at.get(item.name) : indexIn(names, item.name);
    if (i === undefined) {
      at?.set(item.name, names.length);
      names.push(item.name);
      uris.push(item.lifts === undefined ? item.uri : new LiftedUris([item.uri as string], [item.lifts]));
    } else if (item.uri !== undefined && !hasUri(uris[i], item.uri, item.lifts)) {
      uris[i] = appendUri(uris[i], item.uri, item.lifts);
    }
  }
  return { names, uris };
}

function indexIn(names: readonly string[], name: string): number | undefined {
  for (let i = 0; i < names.length; i++) if (names[i] === name) return i;
  return undefined;
}

function hasUri(value: UrisValue, uri: string, lift: UriLift | undefined): boolean {
  if (value === uri) return lift === undefined;
  if (value === undefined || typeof value === 'string') return false;
  const { uris, lifts } = urisOf(value);
  for (let k = 0; k < uris.length; k++) if (uris[k] === uri && lifts?.[k] === lift) return true;
  return false;
}

function appendUri(value: UrisValue, uri: string, lift: UriLift | undefined): UrisValue {
  const { uris, lifts } = urisOf(value);
  if (lift === undefined && lifts === undefined) return [...uris, uri];
  return new LiftedUris([...uris, uri], [...(lifts ?? uris.map(() => undefined)), lift]);
}

/** Each DIST line of one Manifest: its name and its size+digests, added to `store`. */
export function forEachDist(
  data: Buffer,
  store: DistStore,
  visit: (name: string, dist: DistHandle) => void,
): void {
  forEachDistLine(data, (line) => {
    // The last of each algorithm counts, as it would as a record's key.
    let blake2b = -1;
    let sha512 = -1;
    for (let i = 0; i < line.hashCount; i++) {
      if (line.isAlgorithm(i, BLAKE2B)) blake2b = i;
      else if (line.isAlgorithm(i, SHA512)) sha512 = i;
    }
    const slab = store.room();
    let at = store.digestsAt;
    let flags = 0;
    if (blake2b >= 0 && line.decodeInto(blake2b, slab, at, DIGEST)) {
      flags = 1;
      at += DIGEST;
    }
    if (sha512 >= 0 && line.decodeInto(sha512, slab, at, DIGEST)) flags |= 2;
    visit(line.name, store.commit(line.size, flags));
  });
}
