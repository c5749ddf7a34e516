import { readSync } from 'node:fs';
import type { FileSource } from './file-source.js';

/** At most this much per read from memory: what a response holds while its socket drains. */
const RECENT_READ = 256 * 1024;

/** What a reader needs of the file being filled (PartialFile). */
export interface GrowingFile {
  readonly name: string;
  readonly handle: { readonly fd: number };
  /** Bumped when the bytes written so far are thrown away. */
  readonly generation: number;
  readonly written: number;
  readonly status: string;
  readonly failure: Error | undefined;
  /** All bytes are in. */
  readonly done: boolean;
  readonly readerStallMs: number;
  sendableUntil(end: number): number;
  recentBytes(reader: object, from: number, to: number): Buffer[] | undefined;
  releaseRecent(reader: object): void;
  /** 'progress': new bytes, or a change of status. */
  once(event: 'progress', listener: () => void): unknown;
  off(event: 'progress', listener: () => void): unknown;
}

/** Reads what the fill has written so far; for the rest, waits (up to the stall timeout) for progress. */
export class PartialFileReader implements FileSource {
  private readonly generation: number;

  constructor(
    private readonly file: GrowingFile,
    private readonly onClose: () => void,
  ) {
    this.generation = file.generation;
  }

  close(): void {
    this.file.releaseRecent(this);
    this.onClose();
  }

  read(
    position: number,
    end: number,
    buffer: Buffer,
    callback: (error: Error | null, chunks: readonly Buffer[]) => void,
  ): void {
    this.file.releaseRecent(this); // the views of the previous read were sent
    let now: readonly Buffer[] | undefined;
    try {
      now = this.readNow(position, end, buffer);
    } catch (error) {
      callback(error as Error, []);
      return;
    }
    if (now) {
      callback(null, now);
      return;
    }
    const file = this.file;
    const stallTimer = setTimeout(() => {
      file.off('progress', onProgress);
      callback(new Error(`${file.name}: no bytes from upstream for ${file.readerStallMs} ms`), []);
    }, file.readerStallMs);
    const onProgress = () => {
      clearTimeout(stallTimer);
      this.read(position, end, buffer, callback);
    };
    file.once('progress', onProgress);
  }

  /** The bytes at `position` (none: the end) if there is an answer without waiting; throws a failure. */
  private readNow(position: number, end: number, buffer: Buffer): readonly Buffer[] | undefined {
    const file = this.file;
    if (file.generation !== this.generation) throw this.changed();
    const limit = file.sendableUntil(end);
    if (position < limit) {
      const recent = file.recentBytes(this, position, Math.min(limit, position + RECENT_READ));
      if (recent) return recent;
      // Just written, so in the page cache: a synchronous read costs less than a thread-pool hop.
      const length = Math.min(buffer.length, limit - position);
      const bytesRead = readSync(file.handle.fd, buffer, 0, length, position);
      if (bytesRead === 0) throw new Error(`${file.name}: temporary file shrank while reading`);
      return [buffer.subarray(0, bytesRead)];
    }
    if (file.status === 'failed') throw file.failure ?? new Error(`${file.name}: fill failed`);
    return file.done && limit === Math.min(end, file.written) ? [] : undefined;
  }

  private changed(): Error {
    return new Error(`${this.file.name}: upstream bytes changed during the fill`);
  }
}
