import { createHash, type Hash } from 'node:crypto';

/** The Manifest digests portcache records for every committed file (hex, lowercase). */
export interface Digests {
  size: number;
  BLAKE2B: string;
  SHA512: string;
}

/** Hashes bytes in order, as they are written; never re-reads the file. */
export class DigestAccumulator {
  private blake2b: Hash = createHash('blake2b512');
  private sha512: Hash = createHash('sha512');
  private size = 0;

  update(chunk: Buffer): void {
    this.blake2b.update(chunk);
    this.sha512.update(chunk);
    this.size += chunk.length;
  }

  /** An accumulator that goes on from the bytes hashed so far, independently of this one. */
  copy(): DigestAccumulator {
    const copy = new DigestAccumulator();
    copy.blake2b = this.blake2b.copy();
    copy.sha512 = this.sha512.copy();
    copy.size = this.size;
    return copy;
  }

  digest(): Digests {
    return { size: this.size, BLAKE2B: this.blake2b.digest('hex'), SHA512: this.sha512.digest('hex') };
  }
}
