import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { blake2bPrefix } from '../distfile/layout.js';
import { DigestAccumulator, type Digests } from './digests.js';
import { DiskIo } from './disk-io.js';
import { MemoryCache } from './memory-cache.js';
import { PartialFile } from './partial-file.js';

/** A committed distfile. Everything a hit needs is here: no stat, no hashing per request. */
export interface CachedFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  lastModified: string;
  etag: string;
  digests: Digests;
}

interface StoredMeta extends Digests {
  name: string;
  committedAt: string;
}

/**
 * The cache directory. Committed files live at `<dir>/<xx>/<name>` (xx = BLAKE2b(name)[0:2],
 * the GLEP 75 layout portcache serves), their recorded digests at `<dir>/.portcache/meta/<xx>/<name>`,
 * files being filled at `<dir>/.portcache/tmp/`. A commit fsyncs the data and the metadata,
 * renames both into place (metadata first) and fsyncs the directories, so a crash never
 * leaves a partial file visible and never loses a committed one.
 */
@Injectable()
export class CacheStore implements OnModuleInit {
  private readonly logger = new Logger(CacheStore.name);
  private readonly files = new Map<string, CachedFile>();
  private readonly memory: MemoryCache;
  private readonly tmpDir: string;
  private readonly metaDir: string;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly io: DiskIo,
  ) {
    this.tmpDir = join(config.cacheDir, '.portcache', 'tmp');
    this.metaDir = join(config.cacheDir, '.portcache', 'meta');
    this.memory = new MemoryCache(config.memoryCacheBytes);
  }

  async onModuleInit(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.metaDir, { recursive: true });
    await this.sweepTemporaryFiles();
    await this.loadCommittedFiles();
  }

  get(name: string): CachedFile | undefined {
    return this.files.get(name);
  }

  get count(): number {
    return this.files.size;
  }

  /** The whole file from memory when it is small enough to keep there, else undefined. */
  async readSmall(file: CachedFile): Promise<Buffer | undefined> {
    if (file.size > this.memory.maxFileBytes) return undefined;
    const cached = this.memory.get(file.name);
    if (cached) return cached;
    const buffer = await fs.readFile(file.path);
    if (this.files.get(file.name) === file && buffer.length === file.size) this.memory.set(file.name, buffer);
    return buffer;
  }

  async createPartial(name: string): Promise<PartialFile> {
    const tmpPath = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
    const handle = await fs.open(tmpPath, 'wx+', 0o644);
    return new PartialFile(name, tmpPath, handle, this.io, this.config.stallTimeoutMs);
  }

  /** Makes the fully written partial file durable and visible under its name. */
  async commit(partial: PartialFile, digests: Digests): Promise<CachedFile> {
    const name = partial.name;
    const prefix = blake2bPrefix(name);
    const path = join(this.config.cacheDir, prefix, name);
    const metaPath = join(this.metaDir, prefix, name);
    const meta: StoredMeta = { name, ...digests, committedAt: new Date().toISOString() };

    if (partial.lastModified) await partial.handle.utimes(partial.lastModified, partial.lastModified);
    await partial.handle.sync();
    await this.ensureDir(this.config.cacheDir, prefix);
    await this.ensureDir(this.metaDir, prefix);
    await this.writeDurably(metaPath, JSON.stringify(meta));
    await fs.rename(partial.tmpPath, path);
    await Promise.all([
      fsyncDir(join(this.config.cacheDir, prefix)),
      fsyncDir(join(this.metaDir, prefix)),
      fsyncDir(this.tmpDir),
    ]);

    const stat = await partial.handle.stat();
    const file = toCachedFile(name, path, stat.mtimeMs, digests);
    this.memory.delete(name);
    this.files.set(name, file);
    partial.markCommitted();
    return file;
  }

  /** Removes the temporary file of a fill that failed. */
  async discard(partial: PartialFile): Promise<void> {
    await fs.rm(partial.tmpPath, { force: true });
  }

  /** Deletes a committed file and its metadata. False when it was not cached. */
  async remove(name: string): Promise<boolean> {
    const file = this.files.get(name);
    if (!file) return false;
    this.files.delete(name);
    this.memory.delete(name);
    await fs.rm(file.path, { force: true });
    await fs.rm(join(this.metaDir, blake2bPrefix(name), name), { force: true });
    return true;
  }

  /** `parent/name` exists, and if it had to be made, `parent` is fsync'ed so it survives a crash. */
  private async ensureDir(parent: string, name: string): Promise<void> {
    if ((await fs.mkdir(join(parent, name), { recursive: true })) !== undefined) await fsyncDir(parent);
  }

  private async writeDurably(path: string, content: string): Promise<void> {
    const tmp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.meta`);
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
        const meta = await this.readMeta(prefix, name);
        if (meta && meta.size === stat.size)
          this.files.set(name, toCachedFile(name, path, stat.mtimeMs, meta));
        else toAdopt.push({ name, path });
      }
    }
    this.logger.log(`${this.files.size} cached distfile(s) in ${this.config.cacheDir}`);
    if (toAdopt.length > 0) void this.adopt(toAdopt);
  }

  private async readMeta(prefix: string, name: string): Promise<StoredMeta | undefined> {
    try {
      const meta = JSON.parse(await fs.readFile(join(this.metaDir, prefix, name), 'utf8')) as StoredMeta;
      return meta.name === name && typeof meta.BLAKE2B === 'string' ? meta : undefined;
    } catch {
      return undefined;
    }
  }

  /** Files placed in the cache by hand (or whose metadata is lost) are hashed once, then served. */
  private async adopt(files: Array<{ name: string; path: string }>): Promise<void> {
    this.logger.log(`hashing ${files.length} file(s) without recorded digests`);
    for (const { name, path } of files) {
      try {
        const accumulator = new DigestAccumulator();
        for await (const chunk of createReadStream(path)) accumulator.update(chunk as Buffer);
        const digests = accumulator.digest();
        const prefix = blake2bPrefix(name);
        await this.ensureDir(this.metaDir, prefix);
        await this.writeDurably(
          join(this.metaDir, prefix, name),
          JSON.stringify({ name, ...digests, committedAt: new Date().toISOString() }),
        );
        const stat = await fs.stat(path);
        if (stat.size === digests.size) this.files.set(name, toCachedFile(name, path, stat.mtimeMs, digests));
      } catch (error) {
        this.logger.warn(`could not adopt ${path}: ${(error as Error).message}`);
      }
    }
  }
}

function toCachedFile(name: string, path: string, mtimeMs: number, digests: Digests): CachedFile {
  return {
    name,
    path,
    size: digests.size,
    mtimeMs,
    lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString(),
    etag: `"${digests.BLAKE2B.slice(0, 32)}"`,
    digests: { size: digests.size, BLAKE2B: digests.BLAKE2B, SHA512: digests.SHA512 },
  };
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
