import type { ServerResponse } from 'node:http';
import { getSystemErrorName } from 'node:util';
import type { BufferPool } from '../cache/buffer-pool.js';
import type { FileSource } from '../cache/file-source.js';
import {
  countSentDirectly,
  directFd,
  EAGAIN,
  type Sendfile,
  type SendRest,
  type SendRestHandle,
  UNSUPPORTED,
} from '../common/sendfile.js';

export interface BodyOptions {
  readonly pool: BufferPool;
  /** A client that takes no byte of a pending write for this long is cut off (0 or unset: never). */
  readonly clientTimeoutMs?: number;
  /**
   * Set: a source with a descriptor (a committed file) goes out with sendfile(2) once the
   * headers have left, through a buffer only when the socket is full (to wait until it is not).
   */
  readonly sendfile?: Sendfile;
  /**
   * With `sendfile`: once the socket is full, the rest of the body goes from the event loop
   * without JavaScript (each time the socket has room), instead of through a small buffered
   * write that waits for room.
   */
  readonly sendRest?: SendRest;
}

/** Through a buffer when sendfile found the socket full: a small write, to learn when it has room. */
const WAIT_CHUNK = 16 * 1024;
/** Bytes one response sends with sendfile before letting the event loop serve others. */
const TURN_BYTES = 8 * 1024 * 1024;
/** Bytes sendRest sends per turn of the event loop while the socket has room. */
const REST_TURN_BYTES = 2 * 1024 * 1024;

/**
 * Writes bytes [start, end) of `source` as the body of `res`, whose headers are set. One pooled
 * buffer per response, read into only once the socket has taken the previous bytes (the
 * kernel's socket buffer keeps the connection busy meanwhile), so nothing is allocated per
 * chunk. `end` Infinity: until the source ends. A source error cuts the connection: the client
 * sees a truncated body, never a clean end. With `clientTimeoutMs`, a client that takes no byte
 * of a pending write for that long is cut off, so a stalled reader holds no buffer and no file.
 * With `sendfile`, a committed file's bytes after the first buffer go from the page cache to
 * the socket without a copy through the process (a third of the CPU of a hit).
 */
export function sendBody(
  res: ServerResponse,
  source: FileSource,
  start: number,
  end: number,
  options: BodyOptions,
): void {
  // The client left while the response waited (for the upstream, for a fill slot): 'close' came
  // (or is queued) before anyone listened, so a pump would never let go of the source.
  if (res.destroyed || res.socket?.destroyed) {
    source.close();
    return;
  }
  new BodyPump(res, source, start, end, options).next();
}

/**
 * Client timeouts: one coarse sweep over the pumps rather than a timer per pump, which would be
 * created per response and re-armed per chunk (18k small hits/s). Here a chunk costs two field
 * stores, a response a link into a list (no allocation), and a cut comes at most ~2 sweeps late.
 */
const SWEEP_MS = 250;
let sweeps = 0;
let sweeper: NodeJS.Timeout | undefined;

/**
 * Bytes of the socket's pending writes the kernel has not taken yet (libuv's write queue; -1
 * unknown). Internal to Node, but the only sign that a client takes part of a big write: a
 * slow client on a 1 MiB write must not look stalled.
 */
function unsentBytes(res: ServerResponse): number {
  const handle = (res.socket as { _handle?: { writeQueueSize?: number } } | null)?._handle;
  return handle?.writeQueueSize ?? -1;
}

class BodyPump {
  /** Pumps with a client timeout that still hold their buffer, linked through prev/following. */
  private static first: BodyPump | undefined;
  private prev: BodyPump | undefined;
  private following: BodyPump | undefined;

  private static watch(pump: BodyPump): void {
    pump.following = BodyPump.first;
    if (BodyPump.first) BodyPump.first.prev = pump;
    BodyPump.first = pump;
    sweeper ??= setInterval(BodyPump.sweep, SWEEP_MS).unref();
  }

  private static unwatch(pump: BodyPump): void {
    if (pump.prev) pump.prev.following = pump.following;
    else BodyPump.first = pump.following;
    if (pump.following) pump.following.prev = pump.prev;
    pump.prev = pump.following = undefined;
  }

  private static readonly sweep = (): void => {
    sweeps += 1;
    if (!BodyPump.first) {
      clearInterval(sweeper);
      sweeper = undefined;
      return;
    }
    for (let pump: BodyPump | undefined = BodyPump.first; pump; ) {
      const following: BodyPump | undefined = pump.following; // check() may unlink pump
      pump.check(sweeps);
      pump = following;
    }
  };

  private readonly buffer: Buffer;
  private reading = false;
  private closed = false;
  private released = false;
  /** Sweeps without progress after which a pending write is cut (0: never). */
  private readonly limit: number;
  /** Sweep count when the pending write was issued or last made progress; -1: none pending. */
  private pendingSince = -1;
  /**
   * The pending write's progress at the last sweep: unsentBytes() of a buffered write, or the
   * addon's sentSoFar() (from 0); -2: a buffered write not sampled yet.
   */
  private progress = -2;

  private readonly pool: BufferPool;
  /** sendfile, when this response may use it. */
  private direct: Sendfile | undefined;
  /** A write has completed: the headers have left, bytes may go around Node. */
  private wrote = false;
  private readonly rest: SendRest | undefined;
  /** The addon is sending the rest of the body (sendRest). */
  private restHandle: SendRestHandle | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly source: FileSource,
    private position: number,
    private readonly end: number,
    options: BodyOptions,
  ) {
    const { pool, clientTimeoutMs, sendfile, sendRest } = options;
    this.pool = pool;
    this.rest = sendRest;
    this.direct =
      sendfile && source.fd !== undefined && end !== Number.POSITIVE_INFINITY ? sendfile : undefined;
    // With sendfile the buffer carries the first bytes (with the headers) and waits: a small one.
    this.buffer = pool.take(this.direct ? Math.min(end - position, pool.smallSize) : end - position);
    // 'close' comes once the last byte was handed to the kernel, or when the client is gone;
    // either way no write holds the buffer any more. Heard first, so that the bytes the addon
    // sent are counted before other listeners (the access log) read them.
    res.prependOnceListener('close', this.onClose);
    // +1: the write may have started just before a sweep, which then counts a whole interval.
    this.limit = clientTimeoutMs && clientTimeoutMs > 0 ? Math.ceil(clientTimeoutMs / SWEEP_MS) + 1 : 0;
    if (this.limit > 0) BodyPump.watch(this);
  }

  next(): void {
    if (this.direct && this.wrote && this.sendDirect(this.direct)) return;
    this.reading = true;
    // After sendfile found the socket full, a small write waits for room.
    const end = this.direct && this.wrote ? Math.min(this.end, this.position + WAIT_CHUNK) : this.end;
    this.source.read(this.position, end, this.buffer, this.onRead);
  }

  /**
   * Sends with sendfile until the socket is full (false: then through the buffer, to wait) or
   * the body is done, cut, or paused for the event loop (true).
   */
  private sendDirect(sendfile: Sendfile): boolean {
    const socket = this.res.socket;
    const fd = directFd(socket);
    if (fd < 0 || !socket) return false;
    let turn = 0;
    while (this.position < this.end) {
      if (turn >= TURN_BYTES) {
        this.reading = true; // holds the file until resume()
        setImmediate(this.resume);
        return true;
      }
      const sent = sendfile(fd, this.source.fd as number, this.position, this.end - this.position);
      if (sent === EAGAIN) return this.sendRestFrom(fd);
      if (UNSUPPORTED.has(sent)) {
        // A file system or socket sendfile cannot serve: the rest goes through the buffer.
        this.direct = undefined;
        return false;
      }
      if (sent <= 0) {
        // 0: the file is shorter than the response says; else the client is gone or the file unreadable.
        this.res.destroy(
          sent === 0 ? new Error(`file ended ${this.end - this.position} bytes early`) : errnoError(sent),
        );
        return true;
      }
      this.position += sent;
      turn += sent;
      countSentDirectly(socket, sent);
    }
    this.res.end();
    return true;
  }

  /** The socket is full: the addon sends the rest when it has room (false: no addon, wait through the buffer). */
  private sendRestFrom(socketFd: number): boolean {
    if (!this.rest) return false;
    try {
      this.restHandle = this.rest.start(
        socketFd,
        this.source.fd as number,
        this.position,
        this.end,
        REST_TURN_BYTES,
        this.onRestDone,
      );
    } catch {
      return false; // no descriptor left to duplicate: this one waits through the buffer
    }
    this.reading = true; // holds the file until the addon is done or cancelled
    this.pendingSince = sweeps;
    this.progress = 0;
    return true;
  }

  private readonly onRestDone = (status: number, sent: number): void => {
    this.restEnded(sent);
    this.pendingSince = -1;
    if (this.closed) this.release();
    else if (status === 0) this.res.end();
    else
      this.res.destroy(
        status === 1 ? new Error(`file ended ${this.end - this.position} bytes early`) : errnoError(status),
      );
  };

  /** Stops the addon's sending, if it runs: the file is free to close. */
  private cancelRest(): void {
    const handle = this.restHandle;
    if (!handle || !this.rest) return;
    const sent = this.rest.sentSoFar(handle);
    this.rest.cancel(handle);
    this.restEnded(sent);
  }

  /** The addon let go of the file, having sent `sent` bytes: counts them. */
  private restEnded(sent: number): void {
    this.restHandle = undefined;
    this.reading = false;
    this.position += sent;
    const socket = this.res.socket;
    if (socket) countSentDirectly(socket, sent);
  }

  private readonly resume = (): void => {
    this.reading = false;
    if (this.closed) this.release();
    else this.next();
  };

  /** Cuts the response when its pending write made no progress for too long. */
  private check(now: number): void {
    if (this.pendingSince < 0) return; // waiting for the source (a fill) is not the client's fault
    const progress =
      this.restHandle && this.rest ? this.rest.sentSoFar(this.restHandle) : unsentBytes(this.res);
    if (progress !== this.progress) {
      if (this.progress !== -2) this.pendingSince = now; // the kernel took some bytes
      this.progress = progress;
    } else if (now - this.pendingSince >= this.limit) {
      // destroy() closes the socket's descriptor at once: no pending write can use the buffer later.
      this.res.destroy();
      this.stop();
    }
  }

  private readonly onRead = (error: Error | null, chunks: readonly Buffer[]): void => {
    this.reading = false;
    if (this.closed) {
      this.release();
      return;
    }
    if (!error && chunks.length === 0 && this.end !== Number.POSITIVE_INFINITY) {
      error = new Error(`file ended ${this.end - this.position} bytes early`);
    }
    if (error) {
      this.res.destroy(error);
      return;
    }
    const res = this.res;
    this.pendingSince = sweeps;
    this.progress = -2;
    if (chunks.length === 0) {
      res.end();
      return;
    }
    const last = chunks.length - 1;
    res.cork(); // one writev for all chunks
    for (let i = 0; i < last; i++) res.write(chunks[i]);
    for (const chunk of chunks) this.position += chunk.length;
    if (this.position >= this.end) res.end(chunks[last]);
    else res.write(chunks[last], this.onWritten);
    res.uncork();
  };

  private readonly onWritten = (error?: Error | null): void => {
    this.pendingSince = -1;
    this.wrote = true;
    if (error) this.stop();
    else if (!this.closed) this.next();
  };

  private readonly onClose = (): void => this.stop();

  /** The response is over (ended, cut or the client gone): lets go once no read is running. */
  private stop(): void {
    this.closed = true;
    this.cancelRest();
    if (!this.reading) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.limit > 0) BodyPump.unwatch(this);
    this.source.close();
    this.pool.give(this.buffer);
  }
}

function errnoError(negativeErrno: number): Error {
  const code = getSystemErrorName(negativeErrno);
  return Object.assign(new Error(`sendfile: ${code}`), { code, errno: negativeErrno });
}
