import { blake2bPrefix } from '../common/layout.js';
import type { Digests } from './digests.js';

/** A committed distfile. Everything a hit needs is here: no stat, no hashing per request. */
export interface CachedFile {
  name: string;
  /** Its GLEP 75 directory, BLAKE2b(name)[0:2]. */
  prefix: string;
  path: string;
  size: number;
  mtimeMs: number;
  lastModified: string;
  etag: string;
  digests: Digests;
}

export function toCachedFile(name: string, path: string, mtimeMs: number, digests: Digests): CachedFile {
  return {
    name,
    prefix: blake2bPrefix(name),
    path,
    size: digests.size,
    mtimeMs,
    lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString(),
    etag: `"${digests.BLAKE2B.slice(0, 32)}"`,
    digests: { size: digests.size, BLAKE2B: digests.BLAKE2B, SHA512: digests.SHA512 },
  };
}
