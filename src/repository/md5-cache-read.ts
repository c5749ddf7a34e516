import { LIFT_FETCH } from './dep-string.js';
import { LiftedUris, type RestrictFlags, restrictFlagsOfBits, type UrisValue } from './distfile-records.js';
import {
  FORM_ARRAY,
  FORM_NONE,
  FORM_PREFIX,
  FORM_STRING,
  NOT_UTF8,
  PARSED,
  packMd5CacheEntry,
  RESTRICT_ERROR,
  SRC_URI_ERROR,
} from './md5-cache-pack.js';
import type { UriLift } from './src-uri.js';

// The main thread's side of md5Packer (md5-cache-pack.ts): strings only where the index keeps them.

/** A packed md5-cache entry's SRC_URI: why it does not parse, or its RESTRICT and files. */
export type PackedSrcUri =
  | { readonly error: string }
  | {
      readonly error?: undefined;
      readonly restrict: RestrictFlags;
      /** Why RESTRICT does not parse (then every word of it counts). */
      readonly restrictError?: string;
      /** Where the file table starts, for forEachPackedFile. */
      readonly files: number;
    };

/**
 * An md5-cache entry as the reader thread hands it over (see packMd5CacheEntry), packed again
 * from its decoded text when its SRC_URI is not valid UTF-8 (see NOT_UTF8).
 */
export function utf8Packed(data: Buffer): Buffer {
  const table = data.readUInt32LE(data.length - 4);
  return data[table] === NOT_UTF8 ? packMd5CacheEntry(Buffer.from(data.toString('utf8', 0, table))) : data;
}

/** What utf8Packed gives: undefined when its SRC_URI has no token. */
export function readPackedSrcUri(data: Buffer): PackedSrcUri | undefined {
  const p = data.readUInt32LE(data.length - 4);
  const status = data[p];
  if (status === SRC_URI_ERROR) return { error: textAt(data, p + 1) };
  if (status !== PARSED) return undefined;
  const flags = data[p + 1];
  const restrictError = flags & RESTRICT_ERROR ? textAt(data, p + 2) : undefined;
  return { restrict: restrictFlagsOfBits(flags), restrictError, files: p + 6 + data.readUInt32LE(p + 2) };
}

/**
 * Each distinct name of the SRC_URI in order: its bytes `data[start, end)` (valid UTF-8, see
 * utf8Packed) and its URIs. A single `<prefix>/<name>` URI comes as its prefix, made by `prefixes`
 * from its bytes (`prefixed`); other strings are decoded each from its own bytes: slices of one
 * decoded SRC_URI would keep it all alive as long as any URI is indexed.
 */
export function forEachPackedFile(
  data: Buffer,
  files: number,
  prefixes: { prefixOfBytes(data: Buffer, start: number, end: number): string },
  visit: (start: number, end: number, uris: UrisValue, prefixed: boolean) => void,
): void {
  const count = data.readUInt32LE(files);
  let p = files + 4;
  for (let file = 0; file < count; file++) {
    const start = data.readUInt32LE(p);
    const end = data.readUInt32LE(p + 4);
    const form = data[p + 8];
    const uriCount = data.readUInt32LE(p + 9);
    p += 13;
    if (form === FORM_PREFIX) {
      const prefix = prefixes.prefixOfBytes(
        data,
        data.readUInt32LE(p),
        data.readUInt32LE(p + 4) - (end - start),
      );
      visit(start, end, prefix, true);
    } else if (form === FORM_NONE) {
      visit(start, end, undefined, false);
    } else if (form === FORM_STRING) {
      visit(start, end, data.toString('utf8', data.readUInt32LE(p), data.readUInt32LE(p + 4)), false);
    } else {
      const uris: string[] = [];
      const lifts: Array<UriLift | undefined> = [];
      for (let k = p; k < p + 9 * uriCount; k += 9) {
        uris.push(data.toString('utf8', data.readUInt32LE(k), data.readUInt32LE(k + 4)));
        lifts.push(data[k + 8] === 0 ? undefined : data[k + 8] === LIFT_FETCH ? 'fetch' : 'mirror');
      }
      visit(start, end, form === FORM_ARRAY ? uris : new LiftedUris(uris, lifts), false);
    }
    p += 9 * uriCount;
  }
}

/** The distfiles of a packed entry as SRC_URI writes them: names, URIs at the same index (tools and tests). */
export function readPackedMd5Cache(
  data: Buffer,
):
  | { error: string }
  | { error?: undefined; restrict: RestrictFlags; restrictError?: string; names: string[]; uris: UrisValue[] }
  | undefined {
  const packed = utf8Packed(data);
  const read = readPackedSrcUri(packed);
  if (read === undefined || read.error !== undefined) return read;
  const names: string[] = [];
  const uris: UrisValue[] = [];
  const decode = (bytes: Buffer, start: number, end: number) => bytes.toString('utf8', start, end);
  forEachPackedFile(packed, read.files, { prefixOfBytes: decode }, (start, end, value, prefixed) => {
    names.push(decode(packed, start, end));
    uris.push(prefixed ? `${value}${names[names.length - 1]}` : value);
  });
  return { restrict: read.restrict, restrictError: read.restrictError, names, uris };
}

function textAt(data: Buffer, at: number): string {
  return data.toString('utf8', at + 4, at + 4 + data.readUInt32LE(at));
}
