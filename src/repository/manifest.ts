import { startsWith } from './bytes.js';

/** A `DIST` line of a thin Manifest (GLEP 74). */
export interface ManifestDist {
  readonly name: string;
  readonly size: number;
  /** Lowercase hex by algorithm name as written (BLAKE2B, SHA512, ...). */
  readonly hashes: Readonly<Record<string, string>>;
}

/**
 * DIST lines only; other tags (EBUILD, AUX, MISC, MANIFEST, TIMESTAMP, ...) and OpenPGP armour
 * are skipped, and so is a DIST line that does not parse (no size, an odd hash list).
 */
export function parseManifest(data: string | Buffer): ManifestDist[] {
  const dists: ManifestDist[] = [];
  forEachDistLine(typeof data === 'string' ? Buffer.from(data) : data, (line) => {
    const hashes: Record<string, string> = {};
    for (let i = 0; i < line.hashCount; i++) hashes[line.algorithm(i)] = line.hex(i).toLowerCase();
    dists.push({ name: line.name, size: line.size, hashes });
  });
  return dists;
}

/**
 * One DIST line during forEachDistLine, reused from line to line: hash values stay bytes in
 * the Manifest until asked for, so a whole tree's worth of hex never becomes strings.
 */
export class DistLineFields {
  name = '';
  size = 0;
  hashCount = 0;
  private buf: Buffer = Buffer.alloc(0);
  /**
   * Per hash: algorithm start, end, value start, end. Reused from line to line: a fresh array
   * per line was a quarter of what a tree's build allocated.
   */
  private offsets = new Int32Array(32);

  algorithm(i: number): string {
    return this.buf.toString('latin1', this.offsets[4 * i], this.offsets[4 * i + 1]);
  }

  isAlgorithm(i: number, name: Buffer): boolean {
    const start = this.offsets[4 * i];
    return this.offsets[4 * i + 1] - start === name.length && startsWith(this.buf, start, name);
  }

  hex(i: number): string {
    return this.buf.toString('latin1', this.offsets[4 * i + 2], this.offsets[4 * i + 3]);
  }

  /**
   * Decodes hash `i` into `target` from `at`; false unless it is exactly `length` bytes of hex
   * (then what was written there is garbage).
   */
  decodeInto(i: number, target: Uint8Array, at = 0, length = target.length - at): boolean {
    const start = this.offsets[4 * i + 2];
    if (this.offsets[4 * i + 3] - start !== 2 * length) return false;
    const buf = this.buf;
    for (let j = 0, p = start; j < length; j++, p += 2) {
      const value = HEX_PAIRS[(buf[p] << 8) | buf[p + 1]];
      if (value < 0) return false;
      target[at + j] = value;
    }
    return true;
  }

  /** @internal */
  parse(buf: Buffer, from: number, to: number): boolean {
    this.buf = buf;
    let count = 0;
    let fields = 0;
    let i = from;
    while (i < to) {
      let space = buf.indexOf(SPACE, i);
      if (space < 0 || space > to) space = to;
      if (space > i) {
        if (fields === 0) this.name = buf.toString('utf8', i, space);
        else if (fields === 1) this.size = parseDecimal(buf, i, space);
        else {
          if (count + 2 > this.offsets.length) {
            const grown = new Int32Array(2 * this.offsets.length);
            grown.set(this.offsets);
            this.offsets = grown;
          }
          this.offsets[count++] = i;
          this.offsets[count++] = space;
        }
        fields++;
      }
      i = space + 1;
    }
    this.hashCount = count >> 2;
    return fields >= 2 && fields % 2 === 0 && this.size >= 0;
  }
}

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x61 + c] = HEX[0x41 + c] = 10 + c;
/** Two hex digits (first in the high byte) → their byte, or -1: one look-up per decoded byte. */
const HEX_PAIRS = new Int16Array(1 << 16).fill(-1);
for (let high = 0; high < 256; high++) {
  if (HEX[high] < 0) continue;
  for (let low = 0; low < 256; low++) if (HEX[low] >= 0) HEX_PAIRS[(high << 8) | low] = (HEX[high] << 4) | HEX[low];
}

const NL = 0x0a;
const SPACE = 0x20;
const DIST = Buffer.from('DIST ');
const PGP_SIGNATURE_BEGIN = Buffer.from('-----BEGIN PGP SIGNATURE-----');
const PGP_SIGNATURE_END = Buffer.from('-----END PGP SIGNATURE-----');

/** Calls `visit` for each well-formed DIST line, with a DistLineFields valid during the call only. */
export function forEachDistLine(buf: Buffer, visit: (line: DistLineFields) => void): void {
  const line = new DistLineFields();
  let start = 0;
  let inSignature = false;
  while (start < buf.length) {
    let end = buf.indexOf(NL, start);
    if (end < 0) end = buf.length;
    let lineEnd = end;
    if (lineEnd > start && buf[lineEnd - 1] === 0x0d) lineEnd--;
    if (inSignature) {
      if (startsWith(buf, start, PGP_SIGNATURE_END)) inSignature = false;
    } else if (startsWith(buf, start, DIST)) {
      if (line.parse(buf, start + DIST.length, lineEnd)) visit(line);
    } else if (startsWith(buf, start, PGP_SIGNATURE_BEGIN)) {
      inSignature = true;
    }
    start = end + 1;
  }
}

/** -1 unless all digits. */
function parseDecimal(buf: Buffer, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
