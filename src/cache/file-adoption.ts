import { promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@nestjs/common';
import { blake2bPrefix } from '../common/layout.js';
import type { PortcacheConfig } from '../config/portcache-config.js';
import { type CachedFile, toCachedFile } from './cached-file.js';
import type { HashThreads } from './hash-threads.js';
import { identityOf, metaOf, readMeta, sameFile } from './stored-meta.js';
import { ensureDir, type TemporaryFiles } from './temporary-files.js';
import type { WriterClaims } from './writer-claims.js';

/**
 * Brings the files found in the cache directory into the store's index: at startup those whose
 * recorded metadata still names them, and the others once hashed (adopted), in the background
 * or ahead of it when requested.
 */
export class FileAdoption {
  /** Files being hashed to be adopted, by name: a request for one waits for that hashing. */
  private readonly adopting = new Map<string, Promise<boolean>>();

  constructor(
    private readonly config: PortcacheConfig,
    private readonly metaDir: string,
    /** The store's committed files, by name. */
    private readonly files: Map<string, CachedFile>,
    private readonly claims: WriterClaims,
    private readonly temporaries: TemporaryFiles,
    private readonly hashThreads: HashThreads,
    private readonly logger: Logger,
  ) {}

  async loadCommittedFiles(): Promise<void> {
    const toAdopt: Array<{ name: string; path: string }> = [];
    for (const prefix of await fs.readdir(this.config.cacheDir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      const dir = join(this.config.cacheDir, prefix);
      for (const name of await fs.readdir(dir)) {
        const path = join(dir, name);
        const stat = await fs.stat(path).catch(() => undefined);
        if (!stat?.isFile()) continue;
        if (blake2bPrefix(name) !== prefix) {
          this.logger.warn(`ignoring ${path}: it belongs in ${blake2bPrefix(name)}/`);
          continue;
        }
        const meta = await readMeta(join(this.metaDir, prefix, name), name);
        const identity = meta && (await identityOf(path).catch(() => undefined));
        if (
          meta?.ino &&
          identity &&
          sameFile(identity, { ...identity, ino: meta.ino, mtimeNs: `${meta.mtimeNs}`, size: meta.size })
        )
          this.files.set(name, toCachedFile(name, path, identity.mtimeMs, meta));
        else toAdopt.push({ name, path });
      }
    }
    this.logger.log(`${this.files.size} cached distfile(s) in ${this.config.cacheDir}`);
    if (toAdopt.length > 0) void this.adopt(toAdopt);
  }

  /**
   * A miss of `name` whose file is on disk but not served yet (waiting for adoption at startup,
   * or placed by hand while running): hashes it now, ahead of the background adoption, and
   * true once it is cached (the caller still checks it against the Manifest). Concurrent calls
   * share one hashing. A real miss costs one stat.
   */
  async adoptIfPresent(name: string): Promise<boolean> {
    if (this.files.has(name)) return true;
    const running = this.adopting.get(name);
    if (running) return running;
    if (this.claims.has(name)) return false; // a fill, import or delete: the miss joins or waits for it
    const path = join(this.config.cacheDir, blake2bPrefix(name), name);
    // Synchronous, as the hits' reads: a stat through the thread pool put ~0.4 ms before every fill.
    let isFile = false;
    try {
      isFile = statSync(path, { throwIfNoEntry: false })?.isFile() === true;
    } catch {} // unreadable: fetched, as when missing
    if (!isFile) return false;
    const adopted = await this.adoptOne(name, path);
    if (adopted) this.logger.log(`${name}: requested while not yet hashed; hashed and adopted ${path}`);
    return adopted;
  }

  /**
   * Files placed in the cache by hand, or whose metadata is lost or belongs to another file, are
   * hashed once, then served; a request for one hashes it first (adoptIfPresent).
   */
  private async adopt(files: Array<{ name: string; path: string }>): Promise<void> {
    this.logger.log(`hashing ${files.length} file(s) without trustworthy recorded digests`);
    for (const { name, path } of files) await this.adoptOne(name, path);
  }

  /**
   * Hashes the file at `path` and records it as `name`, under the name's claim; its digests are
   * recorded only if the file hashed is still the one there (a fill may have committed that
   * name meanwhile). True when `name` is cached afterwards.
   */
  private adoptOne(name: string, path: string): Promise<boolean> {
    const running = this.adopting.get(name);
    if (running) return running;
    const release = this.claims.claim(name);
    // Being written: the writer's commit records it.
    if (!release) return Promise.resolve(this.files.has(name));
    const adoption = this.hashAndRecord(name, path).finally(() => {
      this.adopting.delete(name);
      release();
    });
    this.adopting.set(name, adoption);
    return adoption;
  }

  private async hashAndRecord(name: string, path: string): Promise<boolean> {
    try {
      if (this.files.has(name)) return true;
      const before = await identityOf(path);
      const digests = await this.hashThreads.hashFile(path);
      const after = await identityOf(path);
      if (!sameFile(before, after) || after.size !== digests.size) {
        this.logger.warn(
          `${path} changed while it was hashed; it is hashed again when requested or at the next start`,
        );
        return false;
      }
      const prefix = blake2bPrefix(name);
      await ensureDir(this.metaDir, prefix);
      await this.temporaries.writeDurably(join(this.metaDir, prefix, name), metaOf(name, digests, after));
      this.files.set(name, toCachedFile(name, path, after.mtimeMs, digests));
      return true;
    } catch (error) {
      this.logger.warn(`could not adopt ${path}: ${(error as Error).message}`);
      return false;
    }
  }
}
