import { closeSync, openSync, readSync } from 'node:fs';
import type { FileSource } from './file-source.js';

/** One open descriptor, shared by every response reading that file. */
export class OpenFile implements FileSource {
  users = 0;
  retired = false;
  /** When it was last acquired, on the owner's counter. */
  lastUsed = 0;

  constructor(
    private readonly owner: OpenFiles,
    readonly fd: number,
  ) {}

  /**
   * Reads synchronously, like nginx: a hit is almost always in the page cache, where a read
   * costs a few microseconds and a hop through the thread pool costs far more.
   */
  read(
    position: number,
    end: number,
    buffer: Buffer,
    callback: (error: Error | null, chunks: readonly Buffer[]) => void,
  ): void {
    let bytesRead: number;
    try {
      bytesRead = readSync(this.fd, buffer, 0, Math.min(buffer.length, end - position), position);
    } catch (error) {
      callback(error as Error, []);
      return;
    }
    callback(null, bytesRead === 0 ? [] : [buffer.subarray(0, bytesRead)]);
  }

  close(): void {
    this.owner.release(this);
  }
}

/**
 * Open descriptors of committed files, like nginx's open_file_cache: a hit costs no open() and
 * no close(). At most `max` are kept (least recently used go first); one still in use is closed
 * when its last reader is done. Opening is synchronous: it is a lookup in the dentry cache.
 * A hit only stamps the entry (re-inserting it into the Map on every hit, to keep the Map in
 * LRU order, made V8 rebuild the Map's table over and over: old-space garbage, ~20 MB of RSS
 * under the benchmark's load); the scan for the oldest happens only when a new file is opened.
 */
export class OpenFiles {
  private readonly entries = new Map<string, OpenFile>();
  private clock = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The open file at `path` with one more user: call close() on it when done. Throws what open() throws. */
  acquire(path: string): OpenFile {
    let file = this.entries.get(path);
    if (!file) {
      file = new OpenFile(this, this.open(path));
      this.evict(this.max - 1);
      this.entries.set(path, file);
    }
    file.lastUsed = ++this.clock;
    file.users += 1;
    return file;
  }

  release(file: OpenFile): void {
    file.users -= 1;
    if (file.retired && file.users === 0) closeSync(file.fd);
  }

  /** The file at `path` was replaced or deleted: its descriptor goes once nobody reads it. */
  forget(path: string): void {
    const file = this.entries.get(path);
    if (!file) return;
    this.entries.delete(path);
    this.retire(file);
  }

  /** Closes every descriptor not in use. */
  clear(): void {
    this.evict(0);
  }

  private open(path: string): number {
    try {
      return openSync(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
      this.clear();
      return openSync(path, 'r');
    }
  }

  private evict(keep: number): void {
    while (this.entries.size > keep) {
      let oldest: [string, OpenFile] | undefined;
      for (const entry of this.entries) if (!oldest || entry[1].lastUsed < oldest[1].lastUsed) oldest = entry;
      const [path, file] = oldest as [string, OpenFile];
      this.entries.delete(path);
      this.retire(file);
    }
  }

  private retire(file: OpenFile): void {
    file.retired = true;
    if (file.users === 0) closeSync(file.fd);
  }
}
