import { promises as fs } from 'node:fs';
import type { Digests } from './digests.js';

/** What `<cache>/.portcache/meta/<xx>/<name>` holds. */
export interface StoredMeta extends Digests {
  name: string;
  committedAt: string;
  /**
   * The data file these digests belong to (inode and mtime in ns, as decimal strings): metadata
   * that outlived its file (a crash between the renames) never vouches for another one.
   */
  ino?: string;
  mtimeNs?: string;
}

/** Who a file on disk is: what metadata must name to be trusted for it. */
export interface FileIdentity {
  ino: string;
  mtimeNs: string;
  size: number;
  mtimeMs: number;
}

export async function identityOf(target: string | fs.FileHandle): Promise<FileIdentity> {
  const stat =
    typeof target === 'string'
      ? await fs.stat(target, { bigint: true })
      : await target.stat({ bigint: true });
  return {
    ino: String(stat.ino),
    mtimeNs: String(stat.mtimeNs),
    size: Number(stat.size),
    mtimeMs: Number(stat.mtimeMs),
  };
}

export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

/** The metadata at `path` if it is portcache's for `name`; undefined when missing or unreadable. */
export async function readMeta(path: string, name: string): Promise<StoredMeta | undefined> {
  try {
    const meta = JSON.parse(await fs.readFile(path, 'utf8')) as StoredMeta;
    return meta.name === name && typeof meta.BLAKE2B === 'string' ? meta : undefined;
  } catch {
    return undefined;
  }
}

export function metaOf(name: string, digests: Digests, identity: FileIdentity): string {
  const meta: StoredMeta = {
    name,
    size: digests.size,
    BLAKE2B: digests.BLAKE2B,
    SHA512: digests.SHA512,
    committedAt: new Date().toISOString(),
    ino: identity.ino,
    mtimeNs: identity.mtimeNs,
  };
  return JSON.stringify(meta);
}
