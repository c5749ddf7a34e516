import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from './fsyncs.js';

/**
 * The cache's temporary directory, `<dir>/.portcache/tmp/`: fills being written, metadata on its
 * way into place, files on their way to quarantine. Tracks which temporaries are in use, so a
 * sweep removes only what nobody will rename.
 */
export class TemporaryFiles {
  /** Temporary files in use (fills, metadata being written, files on their way to quarantine). */
  private readonly live = new Set<string>();

  constructor(readonly dir: string) {}

  /** A new temporary path ending in `.<suffix>`, in use until released. */
  reserve(suffix: string): string {
    const path = join(this.dir, `${randomBytes(8).toString('hex')}.${suffix}`);
    this.live.add(path);
    return path;
  }

  /** The temporary at `path` is no longer in use (renamed away, removed, or never created). */
  release(path: string): void {
    this.live.delete(path);
  }

  /** Writes `content` to a temporary, fsyncs it and renames it to `path`. */
  async writeDurably(path: string, content: string): Promise<void> {
    const tmp = this.reserve('meta');
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
      this.release(tmp);
    }
  }

  /** Removes every temporary file (at startup, when none can be in use); returns how many. */
  async sweepAll(): Promise<number> {
    const leftovers = await fs.readdir(this.dir);
    for (const entry of leftovers) await fs.rm(join(this.dir, entry), { force: true, recursive: true });
    return leftovers.length;
  }

  /**
   * Removes temporary files no fill, commit or quarantine is using (left by a fill whose
   * process died mid-way, or by a bug); returns what went.
   */
  async sweepLeftovers(): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const entry of await fs.readdir(this.dir).catch(() => [] as string[])) {
      const path = join(this.dir, entry);
      if (this.live.has(path)) continue;
      const stat = await fs.stat(path).catch(() => undefined);
      if (!stat || this.live.has(path)) continue;
      await fs.rm(path, { force: true, recursive: true });
      files += 1;
      bytes += stat.size;
    }
    return { files, bytes };
  }
}

/** `parent/name` exists, and if it had to be made, `parent` is fsync'ed so it survives a crash. */
export async function ensureDir(parent: string, name: string): Promise<void> {
  if ((await fs.mkdir(join(parent, name), { recursive: true })) !== undefined) await fsyncDir(parent);
}
