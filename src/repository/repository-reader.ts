import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { READER_THREAD_SOURCE, type ReaderReply } from './repository-reader-thread.js';

/** What the reader thread makes of the files: Manifests' DIST lines or md5-cache entries, packed. */
export type PackAs = 'dists' | 'md5-cache';

export interface DirectoryEntry {
  readonly name: string;
  readonly isDirectory: boolean;
}

export interface FileContent {
  /**
   * The file's bytes. Packed as 'dists': its DIST lines as packDistLines (manifest.ts) packs
   * them; as 'md5-cache': its bytes, then what an md5Packer (md5-cache-pack.ts) made of them,
   * then where that starts (uint32 LE). Lent until the next turn of the event loop: parse or
   * copy it before awaiting anything.
   */
  readonly data: Buffer;
  /**
   * Change time: any write, rename into place or touch moves it, and unlike mtime no tool
   * (rsync -t, tar, cp -p) can set it back. Same ctime, same content.
   */
  readonly ctimeMs: number;
}

/**
 * The filesystem as the distfile index sees it, in batches (tests swap in a counting reader).
 * Missing paths (ENOENT, ENOTDIR) are undefined; other failures are an Error in that slot.
 */
export interface RepositoryReader {
  readdir(path: string): Promise<DirectoryEntry[] | undefined>;
  /** The ctime of each path. */
  stat(paths: readonly string[]): Promise<Array<number | undefined>>;
  /** `pack`: the files are Manifests or md5-cache entries, wanted packed (see FileContent.data). */
  readFiles(paths: readonly string[], pack?: PackAs): Promise<Array<FileContent | Error | undefined>>;
  /**
   * `size` bytes already resident (touched on the reader's thread), or undefined when none is
   * ready: for memory the caller fills at once (a page's first touch costs ~25–30 µs on these VMs).
   */
  takeMemory?(size: number): Buffer | undefined;
  /** Lets go of threads or handles; later calls start them again. */
  close(): Promise<void>;
}

/**
 * One file of a batch, its view made when asked for: a batch is parsed over a few young
 * generation collections, and a view per file made up front lived through them into old space.
 */
class LentFile implements FileContent {
  constructor(
    private readonly all: Buffer,
    private readonly start: number,
    private readonly end: number,
    readonly ctimeMs: number,
  ) {}

  get data(): Buffer {
    // Given back to the reader thread (detached): empty, as a view made earlier would be.
    return this.all.length === 0 ? this.all : this.all.subarray(this.start, this.end);
  }
}

const IDLE_MS = 5_000;
/** Resident memory kept ready for takeMemory(). */
const SPARES = 2;
/** Enough to keep the worker reading while the main thread parses; more only adds buffers. */
const READS_AT_ONCE = 4;

interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (reply: ReaderReply) => void; reject: (error: Error) => void }>;
}

/**
 * Reads on one worker thread with synchronous calls. On a 51k-file tree the async fs API
 * spends more time in thread-pool round trips than in reading (fs.promises.readFile: 2.4 s,
 * callbacks with 64 in flight: 0.6 s of contention on two cores; sync: 0.3 s), and the main
 * thread stays free to parse what the worker read. The worker is unref'ed and ends when idle.
 */
export class NodeRepositoryReader implements RepositoryReader {
  private thread: Thread | undefined;
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Reads at the worker or lent to the caller: each holds one of the worker's buffers. */
  private reading = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly spares: Buffer[] = [];
  private touching = 0;

  readdir(path: string): Promise<DirectoryEntry[] | undefined> {
    return new Promise((resolve, reject) => {
      fs.readdir(path, { withFileTypes: true }, (error, dirents) => {
        if (error)
          return error.code === 'ENOENT' || error.code === 'ENOTDIR' ? resolve(undefined) : reject(error);
        resolve(
          dirents.map((dirent) => ({
            name: dirent.name,
            isDirectory: dirent.isSymbolicLink()
              ? (fs.statSync(`${path}/${dirent.name}`, { throwIfNoEntry: false })?.isDirectory() ?? false)
              : dirent.isDirectory(),
          })),
        );
      });
    });
  }

  async stat(paths: readonly string[]): Promise<Array<number | undefined>> {
    if (paths.length === 0) return [];
    const reply = await this.request('stat', paths);
    return reply.ctimes.map((ctime) => (Number.isNaN(ctime) ? undefined : ctime));
  }

  async readFiles(paths: readonly string[], pack?: PackAs): Promise<Array<FileContent | Error | undefined>> {
    if (paths.length === 0) return [];
    while (this.reading >= READS_AT_ONCE) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.reading++;
    let buffer: ArrayBuffer | undefined;
    try {
      const reply = await this.request('read', paths, pack);
      buffer = reply.buffer as ArrayBuffer;
      const all = Buffer.from(buffer);
      const ends = reply.ends as number[];
      const results: Array<FileContent | Error | undefined> = [];
      for (let i = 0; i < paths.length; i++) {
        const ctimeMs = reply.ctimes[i];
        results.push(
          Number.isNaN(ctimeMs) ? undefined : new LentFile(all, i === 0 ? 0 : ends[i - 1], ends[i], ctimeMs),
        );
      }
      for (const [i, message] of reply.errors) results[i] = new Error(message);
      return results;
    } finally {
      // Once the caller has parsed: back to the worker, which detaches every view of it here.
      setImmediate(() => {
        if (buffer) this.thread?.worker.postMessage({ op: 'return', buffer }, [buffer]);
        this.reading--;
        this.waiting.shift()?.();
      });
    }
  }

  takeMemory(size: number): Buffer | undefined {
    const spare = this.spares.pop();
    while (this.touching + this.spares.length < SPARES) this.touch(size);
    return spare?.length === size ? spare : undefined;
  }

  /** Shared memory, so that the pages the thread touches are the caller's. */
  private touch(size: number): void {
    const memory = new SharedArrayBuffer(size);
    this.touching++;
    this.request('touch', [], undefined, memory).then(
      () => {
        this.touching--;
        if (this.thread) this.spares.push(Buffer.from(memory));
      },
      () => this.touching--,
    );
  }

  async close(): Promise<void> {
    this.spares.length = 0;
    clearTimeout(this.idleTimer);
    const thread = this.thread;
    this.thread = undefined;
    await thread?.worker.terminate();
  }

  private request(
    op: 'stat' | 'read' | 'touch',
    paths: readonly string[],
    pack?: PackAs,
    buffer?: SharedArrayBuffer,
  ): Promise<ReaderReply> {
    clearTimeout(this.idleTimer);
    const thread = this.thread ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ id, op, paths, pack, buffer });
    });
  }

  private start(): Thread {
    const thread: Thread = { worker: new Worker(READER_THREAD_SOURCE, { eval: true }), pending: new Map() };
    const { worker, pending } = thread;
    worker.unref();
    worker.on('message', (reply: ReaderReply) => {
      pending.get(reply.id)?.resolve(reply);
      pending.delete(reply.id);
      if (pending.size === 0 && this.thread === thread) {
        this.idleTimer = setTimeout(() => void this.close(), IDLE_MS);
        this.idleTimer.unref();
      }
    });
    const fail = (error: Error) => {
      if (this.thread === thread) this.thread = undefined;
      for (const { reject } of pending.values()) reject(error);
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`file reader thread exited (${code})`)));
    this.thread = thread;
    return thread;
  }
}
