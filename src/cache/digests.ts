/** The Manifest digests portcache records for every committed file (hex, lowercase). */
export interface Digests {
  size: number;
  BLAKE2B: string;
  SHA512: string;
}
