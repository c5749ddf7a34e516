import { DistStore, type DistValue } from './dist-store.js';

// The DIST lines of thin Manifests (GLEP 74). The index has them packed by its file reader's
// thread (repository-reader.ts runs packDistLines there, from its source text): hex decoding and
// line splitting were a sixth of the main thread's build time. So packDistLines and hexPairs
// use nothing from outside their own bodies.

/**
 * Two hex digits (the first in the high byte) → their byte, or -1. Lower and upper case.
 * Self-contained: it runs on the reader thread too.
 */
export function hexPairs(): Int16Array {
  const digit = (c: number): number =>
    c >= 0x30 && c <= 0x39
      ? c - 0x30
      : c >= 0x61 && c <= 0x66
        ? c - 0x57
        : c >= 0x41 && c <= 0x46
          ? c - 0x37
          : -1;
  const pairs = new Int16Array(1 << 16).fill(-1);
  for (let high = 0; high < 256; high++) {
    if (digit(high) < 0) continue;
    for (let low = 0; low < 256; low++) {
      if (digit(low) >= 0) pairs[(high << 8) | low] = (digit(high) << 4) | digit(low);
    }
  }
  return pairs;
}

/**
 * The well-formed DIST lines of the Manifest in `src[from, to)`, packed into `out` from `at`;
 * returns where they end. Each: the name's length (uint16 LE), the name's bytes, then the value
 * as a DistStore keeps it (flags: 1 BLAKE2B, 2 SHA512; the size as a float64 LE; the raw
 * digests, BLAKE2B first). Of an algorithm given twice the last counts; a digest that is not
 * exactly 64 bytes of hex is left out. Other tags (EBUILD, AUX, MISC, MANIFEST, TIMESTAMP, ...)
 * and OpenPGP armour are skipped, and so is a DIST line without a size or with an odd hash
 * list. `out` needs 2 × (to − from) + 16 bytes from `at` (a line "DIST a 0" grows by 4 bytes).
 * `pairs` is hexPairs(). Self-contained: it runs on the reader thread from its source text.
 */
export function packDistLines(
  src: Uint8Array,
  from: number,
  to: number,
  out: Uint8Array,
  at: number,
  pairs: Int16Array,
): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let fields = new Int32Array(64);
  const prefixed = (start: number, end: number, text: string): boolean => {
    if (end - start < text.length) return false;
    for (let k = 0; k < text.length; k++) if (src[start + k] !== text.charCodeAt(k)) return false;
    return true;
  };
  /** Decodes 64 bytes of hex at src[start, end) into out at `to`; false if they are not. */
  const decode = (start: number, end: number, target: number): boolean => {
    if (end - start !== 128) return false;
    for (let j = 0, p = start; j < 64; j++, p += 2) {
      const value = pairs[(src[p] << 8) | src[p + 1]];
      if (value < 0) return false;
      out[target + j] = value;
    }
    return true;
  };
  let start = from;
  let inSignature = false;
  while (start < to) {
    let end = src.indexOf(0x0a, start);
    if (end < 0 || end > to) end = to;
    let lineEnd = end;
    if (lineEnd > start && src[lineEnd - 1] === 0x0d) lineEnd--;
    if (inSignature) {
      if (prefixed(start, lineEnd, '-----END PGP SIGNATURE-----')) inSignature = false;
    } else if (prefixed(start, lineEnd, 'DIST ')) {
      // Fields split by spaces (runs of them count as one): name, size, then algorithm/value pairs.
      let count = 0;
      for (let i = start + 5; i < lineEnd; ) {
        let space = src.indexOf(0x20, i);
        if (space < 0 || space > lineEnd) space = lineEnd;
        if (space > i) {
          if (count + 2 > fields.length) {
            const grown = new Int32Array(2 * fields.length);
            grown.set(fields);
            fields = grown;
          }
          fields[count++] = i;
          fields[count++] = space;
        }
        i = space + 1;
      }
      let size = count >= 4 ? 0 : -1;
      for (let i = fields[2]; size >= 0 && i < fields[3]; i++) {
        const digit = src[i] - 0x30;
        size = digit < 0 || digit > 9 ? -1 : size * 10 + digit;
      }
      const nameLength = fields[1] - fields[0];
      if (size >= 0 && count % 4 === 0 && nameLength < 0x10000) {
        let blake2b = -1;
        let sha512 = -1;
        for (let k = 4; k < count; k += 4) {
          if (prefixed(fields[k], fields[k + 1], 'BLAKE2B') && fields[k + 1] - fields[k] === 7)
            blake2b = k + 2;
          else if (prefixed(fields[k], fields[k + 1], 'SHA512') && fields[k + 1] - fields[k] === 6)
            sha512 = k + 2;
        }
        out[at] = nameLength & 0xff;
        out[at + 1] = nameLength >> 8;
        for (let i = 0; i < nameLength; i++) out[at + 2 + i] = src[fields[0] + i];
        const value = at + 2 + nameLength;
        let digests = value + 9;
        let flags = 0;
        if (blake2b >= 0 && decode(fields[blake2b], fields[blake2b + 1], digests)) {
          flags = 1;
          digests += 64;
        }
        if (sha512 >= 0 && decode(fields[sha512], fields[sha512 + 1], digests)) {
          flags |= 2;
          digests += 64;
        }
        out[value] = flags;
        view.setFloat64(value + 1, size, true);
        at = digests;
      }
    } else if (prefixed(start, lineEnd, '-----BEGIN PGP SIGNATURE-----')) {
      inSignature = true;
    }
    start = end + 1;
  }
  return at;
}

const PAIRS = hexPairs();

/**
 * Each packed DIST line (see packDistLines) of `packed`: where its name's bytes are, and its
 * value added to `store` (the last value the store added during the call).
 */
export function forEachPackedDist(
  packed: Buffer,
  store: DistStore,
  visit: (packed: Buffer, nameStart: number, nameLength: number, dist: number) => void,
): void {
  let p = 0;
  while (p < packed.length) {
    const nameLength = packed[p] | (packed[p + 1] << 8);
    const nameStart = p + 2;
    p = nameStart + nameLength;
    const dist = store.addPacked(packed, p);
    p += store.bytesOf(dist);
    visit(packed, nameStart, nameLength, dist);
  }
}

/** The DIST lines of a Manifest's text, on this thread (tools and tests; the index packs on its reader thread). */
export function parseManifest(data: string | Buffer): Array<{ name: string } & DistValue> {
  const src = typeof data === 'string' ? Buffer.from(data) : data;
  const packed = Buffer.alloc(2 * src.length + 16);
  const end = packDistLines(src, 0, src.length, packed, 0, PAIRS);
  const store = new DistStore();
  const dists: Array<{ name: string } & DistValue> = [];
  forEachPackedDist(packed.subarray(0, end), store, (bytes, start, length, dist) =>
    dists.push({ name: bytes.toString('utf8', start, start + length), ...store.unpack(dist) }),
  );
  return dists;
}
