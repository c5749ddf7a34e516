import { EventEmitter } from 'node:events';
import type { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { DigestAccumulator, type Digests } from './digests.js';
import type { DiskIo } from './disk-io.js';

const READ_CHUNK = 256 * 1024;

export type PartialStatus = 'filling' | 'ended' | 'committed' | 'failed';

/**
 * A distfile being written to a temporary file. The file on disk is the source of truth:
 * every client reads it through its own reader, which follows the file as it grows, so a
 * late joiner gets the bytes already written at once and a slow one never holds up the fill.
 */
export class PartialFile extends EventEmitter {
  /** Total length once known (upstream Content-Length, later the Manifest). */
  expectedSize: number | undefined;
  lastModified: Date | undefined;
  written = 0;
  status: PartialStatus = 'filling';
  failure: Error | undefined;
  /** Bumped when the bytes written so far are thrown away; readers of an older generation abort. */
  generation = 0;
  private digests = new DigestAccumulator();
  private readonly startedAt = performance.now();
  private openReaders = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly tmpPath: string,
    readonly handle: fs.FileHandle,
    private readonly io: DiskIo,
    /** A reader that got no new byte for this long gives up (the client sees a truncated response). */
    readonly readerStallMs: number,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Bytes a reader may hand to a client now. */
  get readable(): number {
    return this.written;
  }

  get done(): boolean {
    return this.status === 'ended' || this.status === 'committed';
  }

  async append(chunks: Buffer[]): Promise<void> {
    if (this.status !== 'filling') throw new Error(`${this.name}: append after ${this.status}`);
    const generation = this.generation;
    const length = await this.io.writev(this.handle, chunks, this.written);
    if (generation !== this.generation) return;
    for (const chunk of chunks) this.digests.update(chunk);
    this.written += length;
    this.emit('progress');
  }

  /** All bytes are in: the size is final and readers may finish. Returns what was written. */
  end(): Digests {
    this.status = 'ended';
    this.expectedSize = this.written;
    this.emit('progress');
    return this.digests.digest();
  }

  /**
   * Another source turned out to hold different bytes from `position` on: every current reader
   * is aborted (no response may mix two versions), and writing goes on from `position`, with
   * `digests` covering the bytes before it.
   */
  async restartFrom(position: number, digests: DigestAccumulator): Promise<void> {
    this.generation += 1;
    this.emit('progress');
    await this.handle.truncate(position);
    this.written = position;
    this.digests = digests;
  }

  /** Average bytes per second since the fill started. */
  bytesPerSecond(): number {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return seconds > 0 ? this.written / seconds : 0;
  }

  markCommitted(): void {
    this.status = 'committed';
    this.emit('progress');
    this.closeIfUnused();
  }

  fail(error: Error): void {
    if (this.status === 'failed') return;
    this.status = 'failed';
    this.failure = error;
    this.emit('progress');
    this.closeIfUnused();
  }

  /** A stream of bytes [start, end) of this file, following the fill. `end` undefined: to the last byte. */
  createReader(start = 0, end?: number): Readable {
    this.openReaders += 1;
    return new PartialFileReader(this, start, end, () => {
      this.openReaders -= 1;
      this.closeIfUnused();
    });
  }

  private closeIfUnused(): void {
    if (this.closed || this.openReaders > 0 || this.status === 'filling' || this.status === 'ended') return;
    this.closed = true;
    this.handle.close().catch(() => undefined);
  }
}

class PartialFileReader extends Readable {
  private readonly generation: number;
  private reading = false;
  private waiting = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: PartialFile,
    private position: number,
    private readonly end: number | undefined,
    private readonly onClose: () => void,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.generation = file.generation;
  }

  override _read(): void {
    if (this.reading || this.waiting) return;
    const file = this.file;
    if (file.generation !== this.generation) {
      this.destroy(new Error(`${file.name}: upstream bytes changed during the fill`));
      return;
    }
    const limit = Math.min(this.end ?? Number.POSITIVE_INFINITY, file.readable);
    if (this.position < limit) {
      this.readChunk(Math.min(limit - this.position, READ_CHUNK));
      return;
    }
    if (file.status === 'failed') {
      this.destroy(file.failure ?? new Error(`${file.name}: fill failed`));
      return;
    }
    const last = this.end ?? (file.done ? file.written : undefined);
    if (last !== undefined && this.position >= last) {
      this.push(null);
      return;
    }
    this.waiting = true;
    this.stallTimer = setTimeout(() => {
      file.off('progress', onProgress);
      this.waiting = false;
      this.destroy(new Error(`${file.name}: no bytes from upstream for ${file.readerStallMs} ms`));
    }, file.readerStallMs);
    const onProgress = () => {
      clearTimeout(this.stallTimer);
      this.waiting = false;
      if (!this.destroyed) this._read();
    };
    file.once('progress', onProgress);
  }

  private readChunk(length: number): void {
    this.reading = true;
    const buffer = Buffer.allocUnsafe(length);
    this.file.handle.read(buffer, 0, length, this.position).then(
      ({ bytesRead }) => {
        this.reading = false;
        if (this.destroyed) return;
        if (this.file.generation !== this.generation) {
          this.destroy(new Error(`${this.file.name}: upstream bytes changed during the fill`));
          return;
        }
        if (bytesRead === 0) {
          this.destroy(new Error(`${this.file.name}: temporary file shrank while reading`));
          return;
        }
        this.position += bytesRead;
        if (this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))) this._read();
      },
      (error: Error) => {
        this.reading = false;
        this.destroy(error);
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.stallTimer);
    this.onClose();
    callback(error);
  }
}
