import type { DistHandle, DistStore } from './dist-store.js';
import { LiftedUris, type UrisValue, urisOf } from './distfile-records.js';
import { type DistLineFields, forEachDistLine } from './manifest.js';
import type { SrcUriItem, UriLift } from './src-uri.js';

// From parsed md5-cache entries and Manifests to what the index keeps.

const BLAKE2B = Buffer.from('BLAKE2B');
const SHA512 = Buffer.from('SHA512');
const blake2bBytes = Buffer.alloc(64);
const sha512Bytes = Buffer.alloc(64);

/** One value per distinct name, URIs in SRC_URI order. Most names come once: no array for them. */
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
    } else if (item.uri !== undefined) {
      uris[i] = appendUri(uris[i], item.uri, item.lifts);
    }
  }
  return { names, uris };
}

function indexIn(names: readonly string[], name: string): number | undefined {
  for (let i = 0; i < names.length; i++) if (names[i] === name) return i;
  return undefined;
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
    let blake2b: Buffer | undefined;
    let sha512: Buffer | undefined;
    for (let i = 0; i < line.hashCount; i++) {
      if (line.isAlgorithm(i, BLAKE2B)) blake2b = decoded(line, i, blake2bBytes);
      else if (line.isAlgorithm(i, SHA512)) sha512 = decoded(line, i, sha512Bytes);
    }
    visit(line.name, store.add(line.size, blake2b, sha512));
  });
}

function decoded(line: DistLineFields, i: number, target: Buffer): Buffer | undefined {
  return line.decodeInto(i, target) ? target : undefined;
}
