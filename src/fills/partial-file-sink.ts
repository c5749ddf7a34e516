import type { PartialFile } from '../cache/partial-file.js';
import type { BodyStream } from '../mirrors/body-stream.js';

/**
 * Bytes a fill may have received but not yet handed to a write. A fill from a fast upstream
 * that runs alone (or nearly) keeps the next big write ready while one runs: page-cache writes,
 * not the network, limit it. With more fills at once each keeps the small share, so that a
 * fleet's many fills hold no more memory than before (docs/performance-notes.md).
 */
const MIN_PENDING = 512 * 1024;
const MAX_PENDING = 4 * 1024 * 1024;
let copying = 0;

/** The pending bytes at which a fill stops reading while `fills` fills copy bodies. */
export function pendingLimit(fills = copying): number {
  return fills <= 1 ? MAX_PENDING : fills === 2 ? MAX_PENDING / 2 : MIN_PENDING;
}

/** Writing to the cache failed (ENOSPC, EIO): no other mirror can fix that. */
export class DiskWriteError extends Error {
  constructor(override readonly cause: Error) {
    super(`cannot write to the cache: ${cause.message}`);
  }
}

/** The source sent more bytes than the file can have: it has another file. */
export class OverrunError extends Error {
  constructor(readonly limit: number) {
    super(`sent more than the ${limit} bytes the file has`);
  }
}

export interface CopyOptions {
  /** The body may not reach beyond this file offset (see OverrunError); nothing beyond it is written. */
  limit?: number;
  /**
   * The body starts at byte 0 although the partial file already holds this many bytes (a
   * mirror that ignored Range): compare them with the file instead of writing them; on the
   * first difference the partial file restarts from there (its readers are aborted).
   */
  compareUntil?: number;
  /** Called once if the compared bytes differ. */
  onDifferent?: (position: number) => void;
}

/**
 * Writes an upstream body into a PartialFile. Chunks that arrive during a write are batched
 * into one writev; every byte received is on disk before an upstream error is reported, so a
 * failover resumes from the true end and clients get all the bytes that arrived.
 */
export function copyBodyToPartial(
  body: BodyStream,
  partial: PartialFile,
  options: CopyOptions = {},
): Promise<void> {
  const prefix = options.compareUntil
    ? new PrefixCheck(partial, options.compareUntil, options.onDifferent)
    : undefined;
  // Chunks are copied as they arrive (a body's chunk may be valid only during its event): into
  // the partial file's memory, or, while a re-sent prefix is compared, as a copy of their own.
  const keep = (chunk: Buffer): Buffer[] => (prefix ? [Buffer.from(chunk)] : partial.receive([chunk]));
  const write = (batch: Buffer[]) =>
    prefix ? (prefix.pending ? prefix.take(batch) : partial.append(batch)) : partial.writeReceived(batch);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  /** The file offset the body has reached. */
  let reached = options.compareUntil ? 0 : partial.written;
  copying += 1;
  return new Promise<void>((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing = false;
    let upstreamDone = false;
    let upstreamError: Error | undefined;
    let writeError: Error | undefined;

    const finishIfIdle = () => {
      if (writing || pending.length > 0 || !(upstreamDone || writeError)) return;
      if (writeError) return reject(writeError);
      if (upstreamError) return reject(upstreamError);
      if (prefix?.pending) prefix.endedEarly().then(resolve, reject);
      else resolve();
    };

    const drain = () => {
      if (writing || pending.length === 0 || writeError) return finishIfIdle();
      const batch = pending;
      pending = [];
      pendingBytes = 0;
      writing = true;
      write(batch).then(
        () => {
          writing = false;
          if (body.isPaused() && !upstreamDone) body.resume();
          drain();
        },
        (error: Error) => {
          writing = false;
          writeError = new DiskWriteError(error);
          pending = [];
          body.destroy();
          finishIfIdle();
        },
      );
    };

    body.on('data', (chunk: Buffer) => {
      if (writeError || upstreamDone) return;
      reached += chunk.length;
      if (reached > limit) {
        upstreamDone = true;
        upstreamError = new OverrunError(limit);
        body.destroy();
        return drain();
      }
      pending.push(...keep(chunk));
      pendingBytes += chunk.length;
      if (pendingBytes >= pendingLimit()) body.pause();
      drain();
    });
    body.on('end', () => {
      upstreamDone = true;
      drain();
    });
    body.on('error', (error: Error) => {
      upstreamDone = true;
      upstreamError ??= error;
      drain();
    });
  }).finally(() => {
    copying -= 1;
  });
}

/** Compares a re-sent prefix with the bytes on disk. */
class PrefixCheck {
  private compared = 0;

  constructor(
    private readonly partial: PartialFile,
    private readonly length: number,
    private readonly onDifferent?: (position: number) => void,
  ) {}

  get pending(): boolean {
    return this.compared < this.length;
  }

  async take(batch: Buffer[]): Promise<void> {
    const rest: Buffer[] = [];
    for (const chunk of batch) {
      if (!this.pending) {
        rest.push(chunk);
        continue;
      }
      const n = Math.min(chunk.length, this.length - this.compared);
      const head = chunk.subarray(0, n);
      const onDisk = Buffer.allocUnsafe(n);
      await this.partial.handle.read(onDisk, 0, n, this.compared);
      const at = firstDifference(head, onDisk);
      if (at < 0) {
        this.compared += n;
        if (n < chunk.length) rest.push(chunk.subarray(n));
        continue;
      }
      await this.differ(this.compared + at);
      rest.push(chunk.subarray(at));
    }
    if (rest.length > 0) await this.partial.append(rest);
  }

  /** The new body is shorter than what was on disk: it is a different file. */
  endedEarly(): Promise<void> {
    return this.differ(this.compared);
  }

  private async differ(position: number): Promise<void> {
    this.compared = this.length;
    await this.partial.restartFrom(position);
    this.onDifferent?.(position);
  }
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
