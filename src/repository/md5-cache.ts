import { startsWith } from './bytes.js';

/** One `metadata/md5-cache/<cat>/<pf>` file: `KEY=value` lines. */
export interface Md5CacheEntry {
  readonly EAPI?: string;
  readonly SRC_URI?: string;
  readonly RESTRICT?: string;
  /** MD5 of the ebuild, to tell a stale cache entry. */
  readonly _md5_?: string;
  readonly [key: string]: string | undefined;
}

/** Every key, split on the first `=`; lines without one and empty keys are skipped. */
export function parseMd5CacheEntry(data: string | Buffer): Md5CacheEntry {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const entry: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    entry[line.slice(0, eq)] = line.slice(eq + 1).replace(/\r$/, '');
  }
  return entry;
}

/** What the distfile index needs from an entry. */
export interface Md5CacheFields {
  eapi?: string;
  /** SRC_URI split on whitespace. */
  srcUri: string[];
  restrict?: string;
}

const NL = 0x0a;
const KEY_SRC_URI = Buffer.from('SRC_URI=');
const KEY_RESTRICT = Buffer.from('RESTRICT=');
const KEY_EAPI = Buffer.from('EAPI=');

/**
 * The fast path for whole trees: only EAPI, SRC_URI and RESTRICT, and every SRC_URI token a
 * fresh string decoded from its own bytes. Tokens cut from one big decoded string would be
 * V8 sliced strings that keep the whole SRC_URI text alive as long as any URI is indexed.
 */
export function readMd5CacheFields(data: Buffer): Md5CacheFields {
  const fields: Md5CacheFields = { srcUri: [] };
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(NL, start);
    if (end < 0) end = data.length;
    let valueEnd = end;
    if (valueEnd > start && data[valueEnd - 1] === 0x0d) valueEnd--;
    if (startsWith(data, start, KEY_SRC_URI)) {
      fields.srcUri = tokenizeBytes(data, start + KEY_SRC_URI.length, valueEnd);
    } else if (startsWith(data, start, KEY_RESTRICT)) {
      fields.restrict = data.toString('utf8', start + KEY_RESTRICT.length, valueEnd);
    } else if (startsWith(data, start, KEY_EAPI)) {
      fields.eapi = data.toString('latin1', start + KEY_EAPI.length, valueEnd);
    }
    start = end + 1;
  }
  return fields;
}

function tokenizeBytes(data: Buffer, from: number, to: number): string[] {
  const tokens: string[] = [];
  let i = from;
  while (i < to) {
    while (i < to && isSpace(data[i])) i++;
    const begin = i;
    while (i < to && !isSpace(data[i])) i++;
    if (i > begin) tokens.push(structureAt(data, begin, i) ?? data.toString('utf8', begin, i));
  }
  return tokens;
}

/** `(`, `)` and `->` as shared strings: a crate list has a `->` per crate. */
function structureAt(data: Buffer, begin: number, end: number): string | undefined {
  const first = data[begin];
  if (end - begin === 1) return first === 0x28 ? '(' : first === 0x29 ? ')' : undefined;
  return end - begin === 2 && first === 0x2d && data[begin + 1] === 0x3e ? '->' : undefined;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
