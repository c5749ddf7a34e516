/** Size and lowercase hex digests, as a DistfileEntry has them. */
export interface DistValue {
  readonly size: number;
  readonly BLAKE2B?: string;
  readonly SHA512?: string;
}

/** A DIST value in a DistStore: a small integer, so the file map holds it without a heap object. */
export type DistHandle = number;

const SLAB_BITS = 20;
const SLAB = 1 << SLAB_BITS;
const DIGEST = 64;
/** Flags byte (1 BLAKE2B, 2 SHA512), size as a float64, then the raw digests. */
const HEADER = 9;

/**
 * The DIST lines of an index (size and raw digests: 137 bytes for the usual two digests) packed
 * in off-heap slabs of 1 MiB, each value a handle. As one heap string each they were the index's
 * largest part (~194k strings, 28 MB on a ::gentoo-sized tree) and most of what every young
 * generation collection of a build copied. Append-only: a refresh adds what it re-read, and
 * compacted() copies what is still used into a new store once most of it is not.
 */
export class DistStore {
  private readonly slabs: Buffer[] = [];
  private slab: Buffer | undefined;
  private at = SLAB;
  private bytes = 0;
  /** What records used when last counted (withCompactDists): a refresh counts again only past twice that. */
  usedBytes = 0;

  /** `memory`: where a new slab may come from (memory already resident), else it is allocated. */
  constructor(private readonly memory?: (size: number) => Buffer | undefined) {}

  /** Bytes written, live or not. */
  get size(): number {
    return this.bytes;
  }

  /** Digests are 64 bytes each. */
  add(size: number, blake2b: Uint8Array | undefined, sha512: Uint8Array | undefined): DistHandle {
    const slab = this.room();
    let at = this.at + HEADER;
    if (blake2b) {
      slab.set(blake2b, at);
      at += DIGEST;
    }
    if (sha512) slab.set(sha512, at);
    return this.commit(size, (blake2b ? 1 : 0) | (sha512 ? 2 : 0));
  }

  /** The slab the next value goes to, at `this.at`. */
  private room(): Buffer {
    if (this.at + HEADER + 2 * DIGEST > SLAB || !this.slab) {
      this.slab = this.memory?.(SLAB) ?? Buffer.allocUnsafeSlow(SLAB);
      this.slabs.push(this.slab);
      this.at = 0;
    }
    return this.slab;
  }

  /** Ends the value room() made place for: flags 1 BLAKE2B, 2 SHA512 (digests written in place). */
  private commit(size: number, flags: number): DistHandle {
    const slab = this.slab as Buffer;
    slab[this.at] = flags;
    slab.writeDoubleLE(size, this.at + 1);
    return this.advance(lengthOf(flags));
  }

  /** The handle of the value written at `this.at`, `length` bytes, then past it. */
  private advance(length: number): DistHandle {
    const handle = (this.slabs.length - 1) * SLAB + this.at;
    this.at += length;
    this.bytes += length;
    return handle;
  }

  /** A value as packDistLines (manifest.ts) wrote it at `source[at]`: flags, size, digests. */
  addPacked(source: Uint8Array, at: number): DistHandle {
    const slab = this.room();
    const length = lengthOf(source[at]);
    // A loop: a native copy per value cost more than its 137 bytes.
    for (let i = 0; i < length; i++) slab[this.at + i] = source[at + i];
    return this.advance(length);
  }

  /**
   * Takes back the value added last when the caller kept an equal one instead (a file in several
   * Manifests: half the values of a ::gentoo-sized tree); else it stays until compacted().
   */
  release(handle: DistHandle): void {
    const at = handle % SLAB;
    if (Math.floor(handle / SLAB) !== this.slabs.length - 1) return;
    const length = lengthOf((this.slab as Buffer)[at]);
    if (at + length !== this.at) return;
    this.at = at;
    this.bytes -= length;
  }

  /** Same size and digests. */
  same(a: DistHandle, b: DistHandle): boolean {
    if (a === b) return true;
    const x = this.slabs[Math.floor(a / SLAB)];
    const xAt = a % SLAB;
    const y = this.slabs[Math.floor(b / SLAB)];
    const yAt = b % SLAB;
    const length = lengthOf(x[xAt]);
    return x[xAt] === y[yAt] && x.compare(y, yAt, yAt + length, xAt, xAt + length) === 0;
  }

  /** Equal for equal values: a Map key. */
  key(handle: DistHandle): string {
    const [slab, at] = this.locate(handle);
    return slab.toString('latin1', at, at + lengthOf(slab[at]));
  }

  unpack(handle: DistHandle): DistValue {
    const [slab, at] = this.locate(handle);
    const flags = slab[at];
    const size = slab.readDoubleLE(at + 1);
    const from = at + HEADER;
    const blake2b = flags & 1 ? slab.toString('hex', from, from + DIGEST) : undefined;
    const shaFrom = flags & 1 ? from + DIGEST : from;
    const sha512 = flags & 2 ? slab.toString('hex', shaFrom, shaFrom + DIGEST) : undefined;
    return { size, ...(blake2b && { BLAKE2B: blake2b }), ...(sha512 && { SHA512: sha512 }) };
  }

  /** Bytes one value takes. */
  bytesOf(handle: DistHandle): number {
    return lengthOf(this.slabs[Math.floor(handle / SLAB)][handle % SLAB]);
  }

  /** The same value in `target`. */
  copyTo(target: DistStore, handle: DistHandle): DistHandle {
    const [slab, at] = this.locate(handle);
    const flags = slab[at];
    const digests = at + HEADER;
    return target.add(
      slab.readDoubleLE(at + 1),
      flags & 1 ? slab.subarray(digests, digests + DIGEST) : undefined,
      flags & 2
        ? slab.subarray(digests + (flags & 1 ? DIGEST : 0), digests + (flags & 1 ? 2 : 1) * DIGEST)
        : undefined,
    );
  }

  private locate(handle: DistHandle): [Buffer, number] {
    return [this.slabs[Math.floor(handle / SLAB)], handle % SLAB];
  }
}

function lengthOf(flags: number): number {
  return HEADER + (flags & 1 ? DIGEST : 0) + (flags & 2 ? DIGEST : 0);
}
