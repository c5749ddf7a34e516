import { LIFT_FETCH } from './dep-string.js';
import { LiftedUris, type RestrictFlags, restrictFlagsOfBits, type UrisValue } from './distfile-records.js';
import {
  FORM_ARRAY,
  FORM_NONE,
  FORM_STRING,
  PARSED,
  RESTRICT_ERROR,
  SRC_URI_ERROR,
} from './md5-cache-pack.js';
import type { UriLift } from './src-uri.js';

/** The distfiles of an md5-cache entry, or why its SRC_URI does not parse. */
export type Md5CacheDistfiles =
  | { readonly error: string }
  | {
      readonly error?: undefined;
      readonly restrict: RestrictFlags;
      /** Why RESTRICT does not parse (then every word of it counts). */
      readonly restrictError?: string;
      /** One per distinct name, in SRC_URI order, with its URIs at the same index. */
      readonly names: string[];
      readonly uris: UrisValue[];
    };

/**
 * An md5-cache entry as the reader thread hands it over (see packMd5CacheEntry); undefined when
 * its SRC_URI has no token. Each name and URI a fresh string decoded from its own bytes: slices
 * of one decoded SRC_URI would keep it all alive as long as any URI is indexed.
 */
export function readPackedMd5Cache(data: Buffer): Md5CacheDistfiles | undefined {
  let p = data.readUInt32LE(data.length - 4);
  const status = data[p];
  if (status === SRC_URI_ERROR) return { error: text(data, p + 1) };
  if (status !== PARSED) return undefined;
  const flags = data[p + 1];
  const restrictError = flags & RESTRICT_ERROR ? text(data, p + 2) : undefined;
  p += 6 + data.readUInt32LE(p + 2);
  const count = data.readUInt32LE(p);
  p += 4;
  const names: string[] = [];
  const uris: UrisValue[] = [];
  for (let file = 0; file < count; file++) {
    names.push(data.toString('utf8', data.readUInt32LE(p), data.readUInt32LE(p + 4)));
    const form = data[p + 8];
    const uriCount = data.readUInt32LE(p + 9);
    p += 13;
    if (form === FORM_NONE) {
      uris.push(undefined);
    } else if (form === FORM_STRING) {
      uris.push(data.toString('utf8', data.readUInt32LE(p), data.readUInt32LE(p + 4)));
    } else {
      const list: string[] = [];
      const lifts: Array<UriLift | undefined> = [];
      for (let k = 0; k < uriCount; k++) {
        list.push(data.toString('utf8', data.readUInt32LE(p + 9 * k), data.readUInt32LE(p + 9 * k + 4)));
        const lift = data[p + 9 * k + 8];
        lifts.push(lift === 0 ? undefined : lift === LIFT_FETCH ? 'fetch' : 'mirror');
      }
      uris.push(form === FORM_ARRAY ? list : new LiftedUris(list, lifts));
    }
    p += 9 * uriCount;
  }
  return { restrict: restrictFlagsOfBits(flags & ~RESTRICT_ERROR), restrictError, names, uris };
}

function text(data: Buffer, at: number): string {
  return data.toString('utf8', at + 4, at + 4 + data.readUInt32LE(at));
}
