import type { ServerResponse } from 'node:http';
import type { BufferPool } from '../cache/buffer-pool.js';
import type { FileSource } from '../cache/file-source.js';

/**
 * Writes bytes [start, end) of `source` as the body of `res`, whose headers are set. One pooled
 * buffer per response, read into only once the socket has taken the previous bytes (the
 * kernel's socket buffer keeps the connection busy meanwhile), so nothing is allocated per
 * chunk. `end` Infinity: until the source ends. A source error cuts the connection: the client
 * sees a truncated body, never a clean end.
 */
export function sendBody(
  res: ServerResponse,
  source: FileSource,
  start: number,
  end: number,
  pool: BufferPool,
): void {
  new BodyPump(res, source, start, end, pool).next();
}

class BodyPump {
  private readonly buffer: Buffer;
  private reading = false;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly source: FileSource,
    private position: number,
    private readonly end: number,
    private readonly pool: BufferPool,
  ) {
    this.buffer = pool.take(end - position);
    // 'close' comes once the last byte was handed to the kernel, or when the client is gone;
    // either way no write holds the buffer any more.
    res.once('close', this.onClose);
  }

  next(): void {
    this.reading = true;
    this.source.read(this.position, this.end, this.buffer, this.onRead);
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
    if (chunks.length === 0) {
      this.res.end();
      return;
    }
    const res = this.res;
    const last = chunks.length - 1;
    res.cork(); // one writev for all chunks
    for (let i = 0; i < last; i++) res.write(chunks[i]);
    for (const chunk of chunks) this.position += chunk.length;
    if (this.position >= this.end) res.end(chunks[last]);
    else res.write(chunks[last], this.onWritten);
    res.uncork();
  };

  private readonly onWritten = (error?: Error | null): void => {
    if (!error && !this.closed) this.next();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    if (!this.reading) this.release();
  };

  private release(): void {
    this.source.close();
    this.pool.give(this.buffer);
  }
}
