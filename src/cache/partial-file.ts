import { EventEmitter } from 'node:events';
import type { promises as fs } from 'node:fs';
import type { Digests } from './digests.js';
import type { DiskIo } from './disk-io.js';
import type { FileSource } from './file-source.js';
import type { FileDigester } from './hash-threads.js';
import { PartialFileReader } from './partial-file-reader.js';
import { RecentBytes } from './recent-bytes.js';

/**
 * Waiting readers are woken when this many new bytes are on disk, or this long after the first
 * of them: fewer, bigger reads and writes per client than one per upstream chunk.
 */
const WAKE_BYTES = 256 * 1024;
const WAKE_MS = 5;
/** Bytes kept in memory behind the end of the fill (see RecentBytes). */
const RECENT_BYTES = 512 * 1024;

export type PartialStatus = 'filling' | 'ended' | 'committed' | 'failed';

/**
 * A distfile being written to a temporary file. The file on disk is the source of truth:
 * every client reads it through its own reader, which follows the file as it grows, so a
 * late joiner gets the bytes already written at once and a slow one never holds up the fill.
 * Readers that keep up get the newest bytes from memory (RecentBytes) instead of the file.
 */
export class PartialFile extends EventEmitter {
  /** Total length once known (upstream Content-Length, later the Manifest). */
  expectedSize: number | undefined;
  lastModified: Date | undefined;
  written = 0;
  /** Bytes copied into memory by receive(): `written` and those waiting for their write. */
  private received = 0;
  status: PartialStatus = 'filling';
  failure: Error | undefined;
  /** Bumped when the bytes written so far are thrown away; readers of an older generation abort. */
  generation = 0;
  private readonly startedAt = performance.now();
  private openReaders = 0;
  private closed = false;
  /** `written` when waiting readers were last woken. */
  private wokenAt = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly recent = new RecentBytes(RECENT_BYTES);

  constructor(
    readonly name: string,
    readonly tmpPath: string,
    readonly handle: fs.FileHandle,
    private readonly io: DiskIo,
    /** A reader that got no new byte for this long gives up (the client sees a truncated response). */
    readonly readerStallMs: number,
    /** Hashes the bytes on disk as they are written (on hash threads). */
    private readonly digester: FileDigester,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /**
   * Set for a fill a Manifest can (or, while the index builds, may) verify: no response ends
   * (its own last byte) before the whole file has passed the check (markVerified), so no response
   * completes with unverified bytes, whatever range it asked for.
   */
  holdBackLastByte = false;
  /** Passed the check (markVerified) or committed: nothing is held back any more. */
  private verified = false;

  /**
   * The end (exclusive) of what a response for bytes [.., end) may be sent now. A held-back
   * response stops one byte short of its own end until the check; when the length is not
   * known yet, short of the newest byte.
   */
  sendableUntil(end: number): number {
    const limit = Math.min(end, this.written);
    if (!this.holdBackLastByte || this.verified) return limit;
    const last = Math.min(end, this.expectedSize ?? Number.POSITIVE_INFINITY);
    return last === Number.POSITIVE_INFINITY ? Math.min(limit, this.written - 1) : Math.min(limit, last - 1);
  }

  get done(): boolean {
    return this.status === 'ended' || this.status === 'committed';
  }

  /**
   * The whole file passed the Manifest check: held-back responses may end now, while the commit
   * (fsyncs, rename) still runs. What they read is what was hashed: the bytes on disk.
   */
  markVerified(): void {
    if (this.status !== 'ended') return;
    this.verified = true;
    this.wake();
  }

  /** No Manifest can verify the file after all (the index was built and does not know it): responses may end. */
  stopHoldingBack(): void {
    if (!this.holdBackLastByte) return;
    this.holdBackLastByte = false;
    this.wake();
  }

  append(chunks: Buffer[]): Promise<void> {
    return this.writeReceived(this.receive(chunks));
  }

  /**
   * Copies `chunks`, the bytes that follow all bytes received so far, into memory at once: the
   * buffers they arrived in can be reused or die young (see RecentBytes). writeReceived() then
   * writes the copies, in the order they were received.
   */
  receive(chunks: readonly Buffer[]): Buffer[] {
    // After the end no slab is taken: writeReceived() refuses the chunks anyway.
    if (this.status !== 'filling') return [...chunks];
    const copies = this.recent.append(this.received, chunks);
    for (const copy of copies) this.received += copy.length;
    return copies;
  }

  writeReceived(copies: Buffer[]): Promise<void> {
    if (this.status !== 'filling') {
      return Promise.reject(new Error(`${this.name}: append after ${this.status}`));
    }
    return this.write(copies);
  }

  private async write(copies: Buffer[]): Promise<void> {
    const generation = this.generation;
    let length = 0;
    for (const copy of copies) length += copy.length;
    this.recent.hold(copies, this.written, this.written + length);
    try {
      await this.io.writev(this.handle, copies, this.written);
      if (generation !== this.generation) return;
      this.written += length;
      this.recent.advance(this.written);
      this.digester.advance(this.written);
      if (this.wokenAt === 0 || this.written - this.wokenAt >= WAKE_BYTES) this.wake();
      else this.wakeTimer ??= setTimeout(() => this.wake(), WAKE_MS);
    } finally {
      this.recent.release(copies);
    }
  }

  /**
   * All bytes are in: the size is final and readers may finish (held-back ones up to their last
   * byte). Resolves to the digests of what was written.
   */
  end(): Promise<Digests> {
    this.status = 'ended';
    this.expectedSize = this.written;
    // Every byte is in the file: readers take the tail from there, and a fill waiting for its
    // hash and commit (no longer holding a download slot) holds no slab meanwhile.
    this.recent.clear(this.written);
    this.wake();
    return this.digester.digest(this.written);
  }

  /**
   * Another source turned out to hold different bytes from `position` on: every current reader
   * is aborted (no response may mix two versions), and writing goes on from `position`.
   */
  async restartFrom(position: number): Promise<void> {
    this.generation += 1;
    this.digester.restart(position);
    this.recent.clear(position);
    this.wake();
    this.received = position;
    await this.handle.truncate(position);
    this.written = position;
    this.wokenAt = position;
  }

  /** Responses reading this file now (the admin API's fills list). */
  get clients(): number {
    return this.openReaders;
  }

  /** Average bytes per second since the fill started. */
  bytesPerSecond(): number {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return seconds > 0 ? this.written / seconds : 0;
  }

  markCommitted(): void {
    this.status = 'committed';
    this.verified = true;
    this.recent.clear(this.written); // late readers read the committed bytes from the file
    this.wake();
    this.closeIfUnused();
  }

  fail(error: Error): void {
    if (this.status === 'failed') return;
    this.status = 'failed';
    this.digester.close();
    this.failure = error;
    this.recent.clear(this.written);
    this.wake();
    this.closeIfUnused();
  }

  /**
   * Bytes [from, to) if they are still in memory, as views that stay valid until `reader`
   * calls releaseRecent().
   */
  recentBytes(reader: object, from: number, to: number): Buffer[] | undefined {
    const views = this.recent.slice(from, to);
    if (views) this.recent.hold(reader, from, to);
    return views;
  }

  releaseRecent(reader: object): void {
    this.recent.release(reader);
  }

  /** A reader of this file that follows the fill: it waits for bytes not written yet. */
  openReader(): FileSource {
    this.openReaders += 1;
    return new PartialFileReader(this, () => {
      this.openReaders -= 1;
      this.closeIfUnused();
    });
  }

  /** Wakes the readers waiting for bytes or for a change of status. */
  private wake(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wokenAt = this.written;
    this.emit('progress');
  }

  private closeIfUnused(): void {
    if (this.closed || this.openReaders > 0 || this.status === 'filling' || this.status === 'ended') return;
    this.closed = true;
    this.handle.close().catch(() => undefined);
  }
}
