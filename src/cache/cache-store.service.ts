import { randomBytes } from 'node:crypto';
import { promises as fs, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { blake2bPrefix } from '../common/layout.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { AccessTracker } from './access-tracker.service.js';
import type { Digests } from './digests.js';
import { DiskIo } from './disk-io.js';
import type { FileSource } from './file-source.js';
import { HashThreads } from './hash-threads.js';
import { OpenFiles } from './open-files.js';
import { PartialFile } from './partial-file.js';
import { moveToQuarantine, sweepQuarantine } from './quarantine.js';
import { fsyncDir, identityOf, metaOf, readMeta, sameFile } from './stored-meta.js';

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

/** Descriptors of committed files kept open (nginx's open_file_cache max in the benchmark: 10000). */
const OPEN_FILES = 4096;

/**
 * The cache directory. Committed files live at `<dir>/<xx>/<name>` (xx = BLAKE2b(name)[0:2],
 * the GLEP 75 layout portcache serves), their recorded digests at `<dir>/.portcache/meta/<xx>/<name>`,
 * files being filled at `<dir>/.portcache/tmp/`. A commit fsyncs the data and the metadata,
 * renames both into place (metadata first) and fsyncs the directories, so a crash never
 * leaves a partial file visible and never loses a committed one.
 */
@Injectable()
export class CacheStore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CacheStore.name);
  private readonly files = new Map<string, CachedFile>();
  /** Names someone is writing (a fill, an import, adoption, a delete): one writer per name. */
  private readonly writers = new Set<string>();
  /** Files being hashed to be adopted, by name: a request for one waits for that hashing. */
  private readonly adopting = new Map<string, Promise<boolean>>();
  private readonly openFiles = new OpenFiles(OPEN_FILES);
  private readonly tmpDir: string;
  private readonly metaDir: string;

  /** Temporary files in use (fills, metadata being written, files on their way to quarantine). */
  private readonly liveTemporaries = new Set<string>();
  private readonly activityListeners = new Set<() => void>();

  constructor(
    private readonly config: PortcacheConfig,
    private readonly io: DiskIo,
    private readonly access: AccessTracker,
    private readonly hashThreads: HashThreads,
  ) {
    this.tmpDir = join(config.cacheDir, '.portcache', 'tmp');
    this.metaDir = join(config.cacheDir, '.portcache', 'meta');
  }

  async onModuleInit(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.metaDir, { recursive: true });
    await this.sweepTemporaryFiles();
    await this.loadCommittedFiles();
  }

  /** Descriptors nobody reads any more are closed (responses still running keep theirs). */
  onModuleDestroy(): void {
    this.openFiles.clear();
  }

  get(name: string): CachedFile | undefined {
    return this.files.get(name);
  }

  /** Names of every committed file. */
  names(): IterableIterator<string> {
    return this.files.keys();
  }

  get count(): number {
    return this.files.size;
  }

  /**
   * Makes the caller the only writer of `name` (fill, import, adoption, delete) until it calls
   * the returned release; undefined while someone else writes it.
   */
  claim(name: string): (() => void) | undefined {
    if (this.writers.has(name)) return undefined;
    this.writers.add(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.writers.delete(name);
    };
  }

  /** The bytes of a committed file, through a cached open descriptor. Throws what open() throws. */
  open(file: CachedFile): FileSource {
    return this.openFiles.acquire(file.path);
  }

  async createPartial(name: string): Promise<PartialFile> {
    const tmpPath = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
    this.liveTemporaries.add(tmpPath);
    this.notifyActivity();
    try {
      const handle = await fs.open(tmpPath, 'wx+', 0o644);
      const digester = this.hashThreads.open(tmpPath);
      return new PartialFile(name, tmpPath, handle, this.io, this.config.stallTimeoutMs, digester);
    } catch (error) {
      this.liveTemporaries.delete(tmpPath);
      throw error;
    }
  }

  /** Called when the cache is about to grow (a fill starts, a file is committed): the janitor checks free space. */
  onActivity(listener: () => void): () => void {
    this.activityListeners.add(listener);
    return () => this.activityListeners.delete(listener);
  }

  /** Size and free bytes (for unprivileged users) of the cache's filesystem; undefined (warned) when statfs fails. */
  async space(): Promise<{ totalBytes: number; freeBytes: number } | undefined> {
    try {
      const stats = await fs.statfs(this.config.cacheDir);
      return { totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
    } catch (error) {
      this.logger.warn(`statfs of ${this.config.cacheDir} failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Committed files and their bytes. */
  totals(): { files: number; bytes: number } {
    let bytes = 0;
    for (const file of this.files.values()) bytes += file.size;
    return { files: this.files.size, bytes };
  }

  /**
   * Removes temporary files no fill, commit or quarantine is using (left by a fill whose
   * process died mid-way, or by a bug); returns what went.
   */
  async sweepLeftovers(): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const entry of await fs.readdir(this.tmpDir).catch(() => [] as string[])) {
      const path = join(this.tmpDir, entry);
      if (this.liveTemporaries.has(path)) continue;
      const stat = await fs.stat(path).catch(() => undefined);
      if (!stat || this.liveTemporaries.has(path)) continue;
      await fs.rm(path, { force: true, recursive: true });
      files += 1;
      bytes += stat.size;
    }
    return { files, bytes };
  }

  private notifyActivity(): void {
    for (const listener of this.activityListeners) listener();
  }

  /**
   * Makes the fully written partial file durable and visible under its name; the caller holds
   * the name's claim. The served entry switches in the same turn of the event loop as the
   * rename, so no response pairs the old length or ETag with the new bytes.
   */
  async commit(partial: PartialFile, digests: Digests): Promise<CachedFile> {
    const name = partial.name;
    const prefix = blake2bPrefix(name);
    const path = join(this.config.cacheDir, prefix, name);
    const metaPath = join(this.metaDir, prefix, name);

    if (partial.lastModified) await partial.handle.utimes(partial.lastModified, partial.lastModified);
    await partial.handle.sync();
    await this.ensureDir(this.config.cacheDir, prefix);
    await this.ensureDir(this.metaDir, prefix);
    const identity = await identityOf(partial.handle);
    await this.writeDurably(metaPath, metaOf(name, digests, identity));
    const file = toCachedFile(name, path, identity.mtimeMs, digests);
    renameSync(partial.tmpPath, path);
    this.liveTemporaries.delete(partial.tmpPath);
    this.files.set(name, file);
    this.openFiles.forget(path);
    this.access.touch(name);
    await Promise.all([
      fsyncDir(join(this.config.cacheDir, prefix)),
      fsyncDir(join(this.metaDir, prefix)),
      fsyncDir(this.tmpDir),
    ]);
    partial.markCommitted();
    this.notifyActivity();
    return file;
  }

  /** Removes the temporary file of a fill that failed. */
  async discard(partial: PartialFile): Promise<void> {
    await fs.rm(partial.tmpPath, { force: true });
    this.liveTemporaries.delete(partial.tmpPath);
  }

  /** Deletes a committed file and its metadata; 'busy' while someone writes that name. */
  async remove(name: string): Promise<'removed' | 'missing' | 'busy'> {
    const release = this.claim(name);
    if (!release) return 'busy';
    try {
      const file = this.files.get(name);
      if (!file) return 'missing';
      this.files.delete(name);
      this.openFiles.forget(file.path);
      this.access.forget(name);
      // Responses still reading it keep their descriptor and read it to the end (POSIX unlink).
      await fs.rm(file.path, { force: true });
      await fs.rm(join(this.metaDir, blake2bPrefix(name), name), { force: true });
      return 'removed';
    } finally {
      release();
    }
  }

  /**
   * Moves a committed file that no longer matches its Manifest out of the cache, into the
   * quarantine directory. False when it was not cached (or already moved).
   */
  async quarantine(name: string, reason: string): Promise<boolean> {
    const file = this.files.get(name);
    if (!file) return false;
    this.files.delete(name);
    this.openFiles.forget(file.path);
    // Out of the way at once (two metadata operations): a fill of the same name may commit soon.
    const aside = join(this.tmpDir, `${randomBytes(8).toString('hex')}.quarantine`);
    this.liveTemporaries.add(aside);
    renameSync(file.path, aside);
    rmSync(join(this.metaDir, blake2bPrefix(name), name), { force: true });
    try {
      await this.moveToQuarantine(aside, name, reason);
    } finally {
      this.liveTemporaries.delete(aside);
    }
    return true;
  }

  /** Moves the temporary file of a fill whose bytes failed verification into quarantine; its new path. */
  async quarantinePartial(partial: PartialFile, reason: string): Promise<string> {
    try {
      return await this.moveToQuarantine(partial.tmpPath, partial.name, reason);
    } finally {
      this.liveTemporaries.delete(partial.tmpPath);
    }
  }

  /** Deletes quarantined files older than `maxAgeMs`; returns how many. */
  sweepQuarantine(maxAgeMs: number): Promise<number> {
    return sweepQuarantine(this.quarantineDir, maxAgeMs);
  }

  get quarantineDir(): string {
    return join(this.config.cacheDir, '.portcache', 'quarantine');
  }

  private async moveToQuarantine(path: string, name: string, reason: string): Promise<string> {
    const moved = await moveToQuarantine(this.quarantineDir, path, name, reason);
    this.logger.warn(`${name}: quarantined (${reason}) in ${moved}`);
    return moved;
  }

  /** `parent/name` exists, and if it had to be made, `parent` is fsync'ed so it survives a crash. */
  private async ensureDir(parent: string, name: string): Promise<void> {
    if ((await fs.mkdir(join(parent, name), { recursive: true })) !== undefined) await fsyncDir(parent);
  }

  private async writeDurably(path: string, content: string): Promise<void> {
    const tmp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.meta`);
    this.liveTemporaries.add(tmp);
    try {
      const handle = await fs.open(tmp, 'wx', 0o644);
      try {
        await handle.writeFile(content);
        await handle.sync();
        await handle.close();
        await fs.rename(tmp, path);
      } catch (error) {
        await handle.close().catch(() => undefined);
        await fs.rm(tmp, { force: true });
        throw error;
      }
    } finally {
      this.liveTemporaries.delete(tmp);
    }
  }

  private async sweepTemporaryFiles(): Promise<void> {
    const leftovers = await fs.readdir(this.tmpDir);
    for (const entry of leftovers) await fs.rm(join(this.tmpDir, entry), { force: true, recursive: true });
    if (leftovers.length > 0) {
      this.logger.warn(`removed ${leftovers.length} temporary file(s) left by an interrupted fill`);
    }
  }

  private async loadCommittedFiles(): Promise<void> {
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
    if (this.writers.has(name)) return false; // a fill, import or delete: the miss joins or waits for it
    const path = join(this.config.cacheDir, blake2bPrefix(name), name);
    const stat = await fs.stat(path).catch(() => undefined);
    if (!stat?.isFile()) return false;
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
    const release = this.claim(name);
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
      await this.ensureDir(this.metaDir, prefix);
      await this.writeDurably(join(this.metaDir, prefix, name), metaOf(name, digests, after));
      this.files.set(name, toCachedFile(name, path, after.mtimeMs, digests));
      return true;
    } catch (error) {
      this.logger.warn(`could not adopt ${path}: ${(error as Error).message}`);
      return false;
    }
  }
}

function toCachedFile(name: string, path: string, mtimeMs: number, digests: Digests): CachedFile {
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
