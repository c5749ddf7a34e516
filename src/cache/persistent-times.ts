import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './fsyncs.js';

export interface PersistentTimesOptions {
  /** After a change, write at most this long later (default 60_000); several changes, one write. */
  readonly flushDelayMs?: number;
  /** Where problems go (a corrupt file, a failed write); default: nowhere. */
  readonly warn?: (message: string) => void;
}

const HEADER = 'portcache-times 1';
/** Characters per write: big enough for few syscalls, small enough that no step blocks for long. */
const CHUNK_CHARS = 64 * 1024;

/**
 * A map name → time (ms since epoch) in memory, written to one file now and then.
 *
 * On disk: a header line, then `<ms> <name>` per line (names may contain spaces, never a newline).
 * A write goes to `<base>.<random hex>.tmp` next to the file, is fsynced and renamed over it, so a
 * crash leaves the old or the new file; load() removes temp files such a crash left behind.
 */
export class PersistentTimes {
  private readonly map = new Map<string, number>();
  private readonly flushDelayMs: number;
  private readonly warn: (message: string) => void;
  /** Bumped by every change; the file holds everything up to `written`. */
  private version = 0;
  private written = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private writing: Promise<void> | undefined;
  /** The write that follows the running one, shared by everyone who flushes meanwhile. */
  private next: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    options: PersistentTimesOptions = {},
  ) {
    this.flushDelayMs = options.flushDelayMs ?? 60_000;
    this.warn = options.warn ?? (() => {});
  }

  /** Reads the file: missing → empty; unreadable lines skipped with one warning; never throws for content. */
  async load(): Promise<void> {
    await this.removeLeftovers();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let start = text.indexOf('\n');
    if (start < 0 || text.slice(0, start) !== HEADER) {
      this.warn(`${this.path}: not a ${HEADER} file, starting empty`);
      return;
    }
    let bad = 0;
    let firstBad = 0;
    for (let line = 2; start + 1 < text.length; line++) {
      const end = text.indexOf('\n', start + 1);
      const space = text.indexOf(' ', start + 1);
      // Needs a time and a name; end < 0 is a last line without its newline, cut short, its name too.
      const ok = space > start + 1 && space + 1 < end;
      const ms = ok ? Number(text.slice(start + 1, space)) : Number.NaN;
      if (!Number.isFinite(ms)) {
        if (bad++ === 0) firstBad = line;
      } else {
        const name = text.slice(space + 1, end);
        // What was set before load() is newer than the file.
        if (!this.map.has(name)) this.map.set(name, ms);
      }
      if (end < 0) break;
      start = end;
    }
    if (bad > 0) this.warn(`${this.path}: skipped ${bad} unreadable line(s), the first is line ${firstBad}`);
  }

  get(name: string): number | undefined {
    return this.map.get(name);
  }

  /** The hit path calls this on every request: O(1), no allocation beyond the Map's, no I/O; schedules a write. */
  set(name: string, ms: number): void {
    this.map.set(name, ms);
    this.changed();
  }

  delete(name: string): boolean {
    if (!this.map.delete(name)) return false;
    this.changed();
    return true;
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, number]> {
    return this.map.entries();
  }

  /**
   * Writes now if anything changed since the last write. Concurrent calls share one write; a
   * change during a write is written by a following write. Never rejects: a failed write goes
   * to warn, and the changes stay pending for the next flush.
   */
  flush(): Promise<void> {
    if (this.next) return this.next;
    if (this.writing) {
      const after = () => {
        this.next = undefined;
        return this.flush();
      };
      this.next = this.writing.then(after, after);
      return this.next;
    }
    if (this.version === this.written) return Promise.resolve();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Stops the timer and flushes; later set() calls still work and flush only on an explicit flush(). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private changed(): void {
    this.version++;
    if (this.timer === undefined && !this.closed) this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushDelayMs);
    // A pending write must not keep the process alive; close() writes it on shutdown.
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const version = this.version;
    const dir = dirname(this.path);
    const tmp = join(dir, `${basename(this.path)}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(tmp, 'wx', 0o644);
      try {
        // Chunk by chunk, each awaited: the event loop runs between them, and no string of
        // tens of MB exists at once.
        await writeFile(handle, this.chunks());
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      await fsyncDir(dir);
      this.written = version;
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => {});
      this.warn(`${this.path}: write failed: ${(error as Error).message}`);
      if (this.timer === undefined && !this.closed) this.schedule();
    }
  }

  /** Iterates the live map: a change meanwhile may or may not be in this write, and is in the next. */
  private *chunks(): Generator<string> {
    let chunk = `${HEADER}\n`;
    for (const [name, ms] of this.map) {
      // Would split into two lines; distfile names are validated to hold no control characters.
      if (name.includes('\n')) continue;
      chunk += `${ms} ${name}\n`;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk;
  }

  private async removeLeftovers(): Promise<void> {
    const prefix = `${basename(this.path)}.`;
    const names = await readdir(dirname(this.path)).catch(() => [] as string[]);
    for (const name of names) {
      const random = name.slice(prefix.length, -'.tmp'.length);
      if (name.startsWith(prefix) && name.endsWith('.tmp') && /^[0-9a-f]{16}$/.test(random)) {
        await rm(join(dirname(this.path), name), { force: true });
      }
    }
  }
}
