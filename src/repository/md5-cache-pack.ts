import { isUtf8 } from 'node:buffer';
import { type DepScanner, depScanner } from './dep-string.js';

// What the index needs of an md5-cache entry, worked out on its file reader's thread
// (repository-reader.ts runs an md5Packer there, from its source text): tokenizing, the
// SRC_URI grammar and grouping by name were an eighth of the main thread's build time. The
// main thread looks names up by their bytes and decodes only what it keeps (md5-cache-read.ts).

/** Status byte of a packed entry. */
export const NO_SRC_URI = 0;
export const SRC_URI_ERROR = 1;
export const PARSED = 2;
/**
 * SRC_URI is not valid UTF-8. The main thread packs the entry again from its decoded text:
 * names and URIs that decode the same are then one, as they always were.
 */
export const NOT_UTF8 = 3;
/** In the RESTRICT byte, besides the RestrictFlags bits (1 fetch, 2 mirror, 4 primaryuri). */
export const RESTRICT_ERROR = 8;
/** How a file's URIs are kept (distfile-records.ts UrisValue): none, one string, an array, LiftedUris. */
export const FORM_NONE = 0;
export const FORM_STRING = 1;
export const FORM_ARRAY = 2;
export const FORM_LIFTED = 3;
/**
 * One string `<prefix>/<name>` (prefix at least one byte): the index keeps only the prefix
 * (UriPrefixes), so the main thread need not decode the rest.
 */
export const FORM_PREFIX = 4;

/**
 * Packs what the index needs of the md5-cache entry in `src[from, to)` into `out` from `at`;
 * returns where it ends, or when `out` is too short, minus the bytes it needs from `at`.
 * Positions are from `from` (the entry's bytes stay where they are), numbers are uint32 LE:
 *
 * - status NO_SRC_URI: no SRC_URI token; NOT_UTF8 (nothing else follows either);
 * - SRC_URI_ERROR: then the message's length and its UTF-8 bytes;
 * - PARSED: then the RESTRICT byte (RestrictFlags bits, RESTRICT_ERROR with the message of a
 *   RESTRICT that does not parse, whose every word then counts), the message's length and
 *   bytes (0 and none), the file count, and per distinct name in SRC_URI order: the name's
 *   start and end, the form (FORM_*, a byte), the URI count, and per URI its
 *   start, end and lift (LIFT_*, a byte), in SRC_URI order, exact repeats (same URI and lift)
 *   dropped.
 *
 * Of a key given twice the last counts.
 */
export type Md5Packer = (src: Uint8Array, from: number, to: number, out: Uint8Array, at: number) => number;

/**
 * An Md5Packer reading SRC_URI and RESTRICT with `scan` (a depScanner()), `isUtf8` being
 * node:buffer's (a native check: a pass in JS over every SRC_URI byte cost more). Its helpers and
 * arrays are made once, here, and kept from entry to entry: made per entry, they were most of
 * the reader thread's garbage. Self-contained: it runs on the reader thread from its source text.
 */
export function md5Packer(scan: DepScanner, isUtf8: (bytes: Uint8Array) => boolean): Md5Packer {
  // The arguments of the running call, for the helpers.
  let src: Uint8Array = new Uint8Array(0);
  let to = 0;
  let out: Uint8Array = new Uint8Array(0);
  const tokens: number[] = [];
  const items: number[] = [];
  const words: number[] = [];
  // Per group, five numbers: its hash, its first item, its first and last kept item with a URI
  // (-1: none yet) and how many it kept.
  const groups: number[] = [];
  let slots = new Int32Array(1024);
  let next = new Int32Array(512);
  const keyAt = (start: number, key: string): boolean => {
    if (start + key.length > to) return false;
    for (let j = 0; j < key.length; j++) if (src[start + j] !== key.charCodeAt(j)) return false;
    return true;
  };
  const same = (a: number, aEnd: number, b: number, bEnd: number): boolean => {
    if (aEnd - a !== bEnd - b) return false;
    for (let j = 0; j < aEnd - a; j++) if (src[a + j] !== src[b + j]) return false;
    return true;
  };
  const u32 = (p: number, value: number): void => {
    out[p] = value & 0xff;
    out[p + 1] = (value >>> 8) & 0xff;
    out[p + 2] = (value >>> 16) & 0xff;
    out[p + 3] = value >>> 24;
  };
  const pack: Md5Packer = (bytes, from, end, output, at) => {
    src = bytes;
    to = end;
    out = output;
    let srcUri = -1;
    let srcUriEnd = -1;
    let restrict = -1;
    let restrictEnd = -1;
    for (let start = from; start < to; ) {
      // A native search: entries are ~3 kB, mostly lines this skips.
      let end = src.indexOf(0x0a, start);
      if (end < 0 || end > to) end = to;
      const valueEnd = end > start && src[end - 1] === 0x0d ? end - 1 : end;
      if (keyAt(start, 'SRC_URI=')) {
        srcUri = start + 8;
        srcUriEnd = valueEnd;
      } else if (keyAt(start, 'RESTRICT=')) {
        restrict = start + 9;
        restrictEnd = valueEnd;
      }
      start = end + 1;
    }
    if (srcUri >= 0 && !isUtf8(src.subarray(srcUri, srcUriEnd))) {
      if (at + 1 > out.length) return -1;
      out[at] = 3;
      return at + 1;
    }
    tokens.length = 0;
    const error = srcUri < 0 ? undefined : scan(src, srcUri, srcUriEnd, false, tokens, items);
    if (tokens.length === 0) {
      if (at + 1 > out.length) return -1;
      out[at] = 0;
      return at + 1;
    }
    if (error !== undefined) {
      const message = new TextEncoder().encode(error);
      if (at + 5 + message.length > out.length) return -(5 + message.length);
      out[at] = 1;
      u32(at + 1, message.length);
      out.set(message, at + 5);
      return at + 5 + message.length;
    }
    words.length = 0;
    const restrictError = restrict < 0 ? undefined : scan(src, restrict, restrictEnd, true, tokens, words);
    // A RESTRICT that does not parse: every word of it counts.
    const counted = restrictError === undefined ? words : tokens;
    let flags = restrictError === undefined ? 0 : 8;
    for (let i = 0; i < counted.length; i += 2) {
      const start = counted[i];
      const end = counted[i + 1];
      if (end - start === 5 && keyAt(start, 'fetch')) flags |= 1;
      else if (
        (end - start === 6 && keyAt(start, 'mirror')) ||
        (end - start === 8 && keyAt(start, 'nomirror'))
      )
        flags |= 2;
      else if (end - start === 10 && keyAt(start, 'primaryuri')) flags |= 4;
    }
    const message = restrictError === undefined ? new Uint8Array(0) : new TextEncoder().encode(restrictError);

    // Items with the same name (as bytes) in groups: an open-addressing table of group + 1.
    const count = items.length / 5;
    let mask = 15;
    while (mask < 2 * count) mask = 2 * mask + 1;
    if (slots.length <= mask) slots = new Int32Array(mask + 1);
    if (next.length < count) next = new Int32Array(2 * count);
    slots.fill(0, 0, mask + 1);
    next.fill(-1, 0, count);
    groups.length = 0;
    let size = 10 + message.length;
    for (let i = 0; i < count; i++) {
      const name = items[5 * i];
      const nameEnd = items[5 * i + 1];
      const uri = items[5 * i + 2];
      let hash = 0x811c9dc5 | 0;
      for (let j = name; j < nameEnd; j++) hash = Math.imul(hash ^ src[j], 0x01000193);
      let slot = hash & mask;
      let group = slots[slot] - 1;
      while (group >= 0) {
        const first = 5 * groups[5 * group + 1];
        if (groups[5 * group] === hash && same(items[first], items[first + 1], name, nameEnd)) break;
        slot = (slot + 1) & mask;
        group = slots[slot] - 1;
      }
      if (group < 0) {
        slots[slot] = groups.length / 5 + 1;
        groups.push(hash, i, uri < 0 ? -1 : i, uri < 0 ? -1 : i, uri < 0 ? 0 : 1);
        size += 13 + (uri < 0 ? 0 : 9);
        continue;
      }
      // A bare name adds nothing to a name met before; nor does a URI it already has.
      if (uri < 0) continue;
      let kept = groups[5 * group + 2];
      while (
        kept >= 0 &&
        !(
          items[5 * kept + 4] === items[5 * i + 4] &&
          same(items[5 * kept + 2], items[5 * kept + 3], uri, items[5 * i + 3])
        )
      )
        kept = next[kept];
      if (kept >= 0) continue;
      if (groups[5 * group + 3] < 0) groups[5 * group + 2] = i;
      else next[groups[5 * group + 3]] = i;
      groups[5 * group + 3] = i;
      groups[5 * group + 4]++;
      size += 9;
    }
    if (at + size > out.length) return -size;
    out[at] = 2;
    out[at + 1] = flags;
    u32(at + 2, message.length);
    out.set(message, at + 6);
    let p = at + 6 + message.length;
    u32(p, groups.length / 5);
    p += 4;
    for (let g = 0; g < groups.length; g += 5) {
      const first = 5 * groups[g + 1];
      const kept = groups[g + 4];
      let lifted = false;
      for (let i = groups[g + 2]; i >= 0; i = next[i]) if (items[5 * i + 4] !== 0) lifted = true;
      const name = items[first];
      const nameEnd = items[first + 1];
      u32(p, name - from);
      u32(p + 4, nameEnd - from);
      // As filesOf built them: a name first met bare starts with no URI, so a later one makes a list.
      let form = kept === 0 ? 0 : lifted ? 3 : kept === 1 && items[first + 2] >= 0 ? 1 : 2;
      const uri = items[first + 2];
      const cut = items[first + 3] - uri - (nameEnd - name);
      if (
        form === 1 &&
        cut >= 2 &&
        src[uri + cut - 1] === 0x2f &&
        same(uri + cut, items[first + 3], name, nameEnd)
      )
        form = 4;
      out[p + 8] = form;
      u32(p + 9, kept);
      p += 13;
      for (let i = groups[g + 2]; i >= 0; i = next[i]) {
        u32(p, items[5 * i + 2] - from);
        u32(p + 4, items[5 * i + 3] - from);
        out[p + 8] = items[5 * i + 4];
        p += 9;
      }
    }
    return p;
  };
  return pack;
}

const packHere = md5Packer(depScanner(), isUtf8);

/**
 * An md5-cache entry as the reader thread hands it over: its bytes, what an md5Packer packed,
 * then where that starts (uint32 LE). For tools and tests; the index packs on its reader thread.
 */
export function packMd5CacheEntry(entry: Uint8Array): Buffer {
  let out = Buffer.alloc(256);
  let end = packHere(entry, 0, entry.length, out, 0);
  if (end < 0) {
    out = Buffer.alloc(-end);
    end = packHere(entry, 0, entry.length, out, 0);
  }
  const packed = Buffer.alloc(entry.length + end + 4);
  packed.set(entry);
  out.copy(packed, entry.length, 0, end);
  packed.writeUInt32LE(entry.length, entry.length + end);
  return packed;
}
