import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';

/** The file operations of the probe. */
export type ProbeFileSystem = Pick<typeof fs, 'opendir' | 'writeFile' | 'rename' | 'rm'>;

/** One name per process: a probe killed half-way leaves at most one empty file, replaced by the next. */
const PROBE_NAME = '.portcache-ready-probe';

/**
 * Whether the cache directory can be read and written, found by doing it: access(W_OK) says
 * yes to root on any directory, and a read-only mount or an immutable directory is only seen
 * by writing. The probe does what a fill does — a file created in `.portcache/tmp/` and renamed
 * into the cache directory — and removes it again.
 */
@Injectable()
export class CacheDirProbe {
  /** The file operations used; swappable where a test cannot make a directory read-only for real. */
  fs: ProbeFileSystem = fs;
  private running: Promise<void> | undefined;

  constructor(private readonly config: PortcacheConfig) {}

  /** Resolves when the cache directory is readable and writable, else rejects with why; concurrent calls share one probe. */
  check(): Promise<void> {
    this.running ??= this.probe().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async probe(): Promise<void> {
    const dir = this.config.cacheDir;
    const listing = await this.fs.opendir(dir);
    try {
      await listing.read();
    } finally {
      await listing.close();
    }
    const temporary = join(dir, '.portcache', 'tmp', PROBE_NAME);
    const placed = join(dir, PROBE_NAME);
    await this.fs.writeFile(temporary, '');
    try {
      await this.fs.rename(temporary, placed);
    } catch (error) {
      await this.fs.rm(temporary, { force: true }).catch(() => undefined);
      throw error;
    }
    await this.fs.rm(placed);
  }
}
