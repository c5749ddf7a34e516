import { Worker } from 'node:worker_threads';
import type { Digests } from './digests.js';

/** Threads with no file to hash for this long are stopped (each costs about 10 MB of RSS). */
const IDLE_MS = 10_000;

/** The Manifest names of the digests and their node:crypto algorithms. */
const ALGORITHMS = { BLAKE2B: 'blake2b512', SHA512: 'sha512' } as const;
type DigestName = keyof typeof ALGORITHMS;

// Plain CommonJS for `eval`: the worker must not depend on how the project is compiled.
// Each file is hashed from the file itself (just written, so in the page cache): the bytes never
// travel between threads, and what is verified is what is on disk. Messages are handled in order,
// so an 'advance' posted after a write sees that write.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const algorithms = workerData.algorithms;
// 64 bytes past the allocation's start: see allocateReadBuffer in common/slabs.ts (copies into it run 5 times faster).
const buffer = Buffer.allocUnsafeSlow((1 << 20) + 64).subarray(64);
const files = new Map();
const fresh = () => algorithms.map((algorithm) => crypto.createHash(algorithm));
function catchUp(file, to) {
  while (file.hashed < to) {
    const n = fs.readSync(file.fd, buffer, 0, Math.min(buffer.length, to - file.hashed), file.hashed);
    if (n === 0) return;
    const bytes = n === buffer.length ? buffer : buffer.subarray(0, n);
    for (const hash of file.hashes) hash.update(bytes);
    file.hashed += n;
  }
}
function finish(id, file, size) {
  catchUp(file, size);
  if (file.hashed !== size) throw new Error(file.path + ': ' + file.hashed + ' bytes on disk, ' + size + ' expected');
  parentPort.postMessage({ id, size, digests: file.hashes.map((hash) => hash.digest('hex')) });
}
function close(id) {
  const file = files.get(id);
  files.delete(id);
  if (file) fs.closeSync(file.fd);
}
parentPort.on('message', ({ op, id, path, to }) => {
  try {
    if (op === 'open') {
      files.set(id, { path, fd: fs.openSync(path, 'r'), hashes: fresh(), hashed: 0 });
      return;
    }
    if (op === 'whole') {
      const fd = fs.openSync(path, 'r');
      const file = { path, fd, hashes: fresh(), hashed: 0 };
      try { finish(id, file, fs.fstatSync(fd).size); } finally { fs.closeSync(fd); }
      return;
    }
    const file = files.get(id);
    if (!file && op === 'digest') throw new Error('the hash thread was restarted during the fill');
    if (op === 'close' || !file) return close(id);
    if (op === 'advance') catchUp(file, to);
    else if (op === 'restart' && file.hashed > to) {
      file.hashes = fresh();
      file.hashed = 0;
    } else if (op === 'digest') {
      try { finish(id, file, to); } finally { close(id); }
    }
  } catch (error) {
    if (op !== 'advance') close(id);
    parentPort.postMessage({ id, error: error.message });
  }
});
`;

interface Reply {
  id: number;
  size?: number;
  digests?: string[];
  error?: string;
}

interface Thread {
  readonly worker: Worker;
  readonly names: readonly DigestName[];
  /** Requests waiting for this thread's answer. */
  readonly pending: Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>;
  /** An error a thread reported for a file before anyone asked for its digests. */
  readonly failed: Map<number, string>;
}

/**
 * BLAKE2B and SHA512 of fills and of whole files, on worker threads: hashing a fill costs more
 * CPU than everything else it does, and on the event loop it would hold up every hit meanwhile.
 * With two threads each hashes one algorithm, so one fill's hashing runs on two cores; with one,
 * that thread hashes both.
 */
export class HashThreads {
  private threads: Thread[] = [];
  private nextId = 1;
  /** Files open in the threads, plus whole-file requests in flight. */
  private busy = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly count: 1 | 2 = 1) {}

  /** A digester for a file being written at `path`; the path stays valid until it ends. */
  open(path: string): FileDigester {
    const id = this.begin();
    this.post(id, { op: 'open', path });
    return new FileDigester(this, id);
  }

  /** BLAKE2B, SHA512 and size of the file at `path` as it is now. */
  async hashFile(path: string): Promise<Digests> {
    const id = this.begin();
    try {
      return await this.ask(id, { op: 'whole', path });
    } finally {
      this.end();
    }
  }

  /** Stops the threads now; later calls start them again. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const threads = this.threads;
    this.threads = [];
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  /** @internal for FileDigester */
  post(id: number, message: { op: string; path?: string; to?: number }): void {
    for (const thread of this.started()) thread.worker.postMessage({ id, ...message });
  }

  /** @internal for FileDigester: asks every thread, merges their digests. */
  async ask(id: number, message: { op: string; path?: string; to?: number }): Promise<Digests> {
    const answers = this.started().map(
      (thread) =>
        new Promise<[Thread, Reply]>((resolve, reject) => {
          const earlier = thread.failed.get(id);
          thread.failed.delete(id);
          if (earlier !== undefined) {
            thread.worker.postMessage({ id, op: 'close' });
            reject(new Error(earlier));
            return;
          }
          thread.pending.set(id, { resolve: (reply) => resolve([thread, reply]), reject });
          thread.worker.postMessage({ id, ...message });
        }),
    );
    const merged: Partial<Record<DigestName, string>> = {};
    const sizes = new Set<number>();
    for (const [thread, reply] of await Promise.all(answers)) {
      sizes.add(reply.size ?? -1);
      thread.names.forEach((name, i) => {
        merged[name] = reply.digests?.[i];
      });
    }
    const [size] = sizes;
    if (sizes.size !== 1 || !merged.BLAKE2B || !merged.SHA512) {
      throw new Error(`${message.path ?? 'a fill'}: changed while it was hashed`);
    }
    return { size, BLAKE2B: merged.BLAKE2B, SHA512: merged.SHA512 };
  }

  /** @internal for FileDigester */
  forget(id: number): void {
    for (const thread of this.threads) thread.failed.delete(id);
    this.end();
  }

  private begin(): number {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.busy += 1;
    return this.nextId++;
  }

  private end(): void {
    this.busy -= 1;
    if (this.busy > 0 || this.threads.length === 0) return;
    this.idleTimer = setTimeout(() => void this.close(), IDLE_MS);
    this.idleTimer.unref();
  }

  private started(): Thread[] {
    if (this.threads.length === 0) {
      const groups: DigestName[][] = this.count === 2 ? [['BLAKE2B'], ['SHA512']] : [['BLAKE2B', 'SHA512']];
      this.threads = groups.map((names) => this.start(names));
    }
    return this.threads;
  }

  private start(names: DigestName[]): Thread {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { algorithms: names.map((name) => ALGORITHMS[name]) },
    });
    const thread: Thread = { worker, names, pending: new Map(), failed: new Map() };
    worker.unref();
    worker.on('message', ({ id, size, digests, error }: Reply) => {
      const waiting = thread.pending.get(id);
      thread.pending.delete(id);
      if (error === undefined) waiting?.resolve({ id, size, digests });
      else if (waiting) waiting.reject(new Error(error));
      else thread.failed.set(id, error);
    });
    const fail = (error: Error) => {
      this.threads = this.threads.filter((other) => other !== thread);
      for (const { reject } of thread.pending.values()) reject(error);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash thread exited (${code})`)));
    return thread;
  }
}

/**
 * Threads are told of new bytes when at least this many are on disk since they last were: a
 * message costs the event loop about 25 µs, one per write would cost more than the writes.
 */
const ADVANCE_BYTES = 1024 * 1024;

/** The digests of one file as it is written: told how far the bytes on disk reach, hashes them. */
export class FileDigester {
  private ended = false;
  /** What the threads were last told is on disk. */
  private told = 0;

  constructor(
    private readonly threads: HashThreads,
    private readonly id: number,
  ) {}

  /** Bytes [0, to) are on disk. */
  advance(to: number): void {
    if (this.ended || to - this.told < ADVANCE_BYTES) return;
    this.told = to;
    this.threads.post(this.id, { op: 'advance', to });
  }

  /** The file is cut back to `to` bytes and rewritten from there. */
  restart(to: number): void {
    if (this.ended) return;
    this.told = Math.min(this.told, to);
    this.threads.post(this.id, { op: 'restart', to });
  }

  /** The digests of the file's `size` bytes; ends this digester. */
  async digest(size: number): Promise<Digests> {
    if (this.ended) throw new Error('digest of an ended digester');
    this.ended = true;
    try {
      return await this.threads.ask(this.id, { op: 'digest', to: size });
    } finally {
      this.threads.forget(this.id);
    }
  }

  /** No digest needed any more (the fill failed). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.threads.post(this.id, { op: 'close' });
    this.threads.forget(this.id);
  }
}
