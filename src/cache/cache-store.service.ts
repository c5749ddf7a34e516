import { promises as fs, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { blake2bPrefix } from '../common/layout.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { AccessTracker } from './access-tracker.service.js';
import { type CachedFile, toCachedFile } from './cached-file.js';
import type { Digests } from './digests.js';
import { DiskIo } from './disk-io.js';
import { FileAdoption } from './file-adoption.js';
import type { FileSource } from './file-source.js';
import { fsyncDir } from './fsyncs.js';
import { HashThreads } from './hash-threads.js';
import { OpenFiles } from './open-files.js';
import { PartialFile } from './partial-file.js';
import { moveToQuarantine, sweepQuarantine } from './quarantine.js';
import { identityOf, metaOf } from './stored-meta.js';
import { ensureDir, TemporaryFiles } from './temporary-files.js';
import { WriterClaims } from './writer-claims.js';

export type { CachedFile } from './cached-file.js';

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
  private readonly claims = new WriterClaims();
  private readonly openFiles = new OpenFiles(OPEN_FILES);
  private readonly temporaries: TemporaryFiles;
  private readonly metaDir: string;
  private readonly adoption: FileAdoption;
  private readonly activityListeners = new Set<() => void>();

  constructor(
    private readonly config: PortcacheConfig,
    private readonly io: DiskIo,
    private readonly access: AccessTracker,
    private readonly hashThreads: HashThreads,
  ) {
    this.temporaries = new TemporaryFiles(join(config.cacheDir, '.portcache', 'tmp'));
    this.metaDir = join(config.cacheDir, '.portcache', 'meta');
    this.adoption = new FileAdoption(
      config,
      this.metaDir,
      this.files,
      this.claims,
      this.temporaries,
      hashThreads,
      this.logger,
    );
  }

  async onModuleInit(): Promise<void> {
    await fs.mkdir(this.temporaries.dir, { recursive: true });
    await fs.mkdir(this.metaDir, { recursive: true });
    const swept = await this.temporaries.sweepAll();
    if (swept > 0) this.logger.warn(`removed ${swept} temporary file(s) left by an interrupted fill`);
    await this.adoption.loadCommittedFiles();
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
    return this.claims.claim(name);
  }

  /** The bytes of a committed file, through a cached open descriptor. Throws what open() throws. */
  open(file: CachedFile): FileSource {
    return this.openFiles.acquire(file.path);
  }

  async createPartial(name: string): Promise<PartialFile> {
    const tmpPath = this.temporaries.reserve('part');
    this.notifyActivity();
    try {
      const handle = await fs.open(tmpPath, 'wx+', 0o644);
      const digester = this.hashThreads.open(tmpPath);
      return new PartialFile(name, tmpPath, handle, this.io, this.config.stallTimeoutMs, digester);
    } catch (error) {
      this.temporaries.release(tmpPath);
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
  sweepLeftovers(): Promise<{ files: number; bytes: number }> {
    return this.temporaries.sweepLeftovers();
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
    await ensureDir(this.config.cacheDir, prefix);
    await ensureDir(this.metaDir, prefix);
    const identity = await identityOf(partial.handle);
    await this.temporaries.writeDurably(metaPath, metaOf(name, digests, identity));
    const file = toCachedFile(name, path, identity.mtimeMs, digests);
    renameSync(partial.tmpPath, path);
    this.temporaries.release(partial.tmpPath);
    this.files.set(name, file);
    this.openFiles.forget(path);
    this.access.touch(name);
    await Promise.all([
      fsyncDir(join(this.config.cacheDir, prefix)),
      fsyncDir(join(this.metaDir, prefix)),
      fsyncDir(this.temporaries.dir),
    ]);
    partial.markCommitted();
    this.notifyActivity();
    return file;
  }

  /** Removes the temporary file of a fill that failed. */
  async discard(partial: PartialFile): Promise<void> {
    await fs.rm(partial.tmpPath, { force: true });
    this.temporaries.release(partial.tmpPath);
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
    const aside = this.temporaries.reserve('quarantine');
    renameSync(file.path, aside);
    rmSync(join(this.metaDir, blake2bPrefix(name), name), { force: true });
    try {
      await this.moveToQuarantine(aside, name, reason);
    } finally {
      this.temporaries.release(aside);
    }
    return true;
  }

  /** Moves the temporary file of a fill whose bytes failed verification into quarantine; its new path. */
  async quarantinePartial(partial: PartialFile, reason: string): Promise<string> {
    try {
      return await this.moveToQuarantine(partial.tmpPath, partial.name, reason);
    } finally {
      this.temporaries.release(partial.tmpPath);
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

  /**
   * A miss of `name` whose file is on disk but not served yet (waiting for adoption at startup,
   * or placed by hand while running): hashes it now, ahead of the background adoption, and
   * true once it is cached (the caller still checks it against the Manifest). Concurrent calls
   * share one hashing. A real miss costs one stat.
   */
  adoptIfPresent(name: string): Promise<boolean> {
    return this.adoption.adoptIfPresent(name);
  }
}
