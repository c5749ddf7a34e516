import type { Readable } from 'node:stream';
import type { PartialFile } from '../cache/partial-file.js';

const MAX_PENDING = 4 * 1024 * 1024;

/**
 * Writes an upstream body into a PartialFile. Chunks that arrive during a write are batched
 * into one writev; every byte received is on disk before an upstream error is reported, so a
 * failover resumes from the true end and clients get all the bytes that arrived.
 */
export function copyBodyToPartial(body: Readable, partial: PartialFile): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing = false;
    let upstreamDone = false;
    let upstreamError: Error | undefined;
    let writeError: Error | undefined;

    const finishIfIdle = () => {
      if (writing || pending.length > 0 || !(upstreamDone || writeError)) return;
      if (writeError) reject(writeError);
      else if (upstreamError) reject(upstreamError);
      else resolve();
    };

    const drain = () => {
      if (writing || pending.length === 0 || writeError) return finishIfIdle();
      const batch = pending;
      pending = [];
      pendingBytes = 0;
      writing = true;
      partial.append(batch).then(
        () => {
          writing = false;
          if (body.isPaused() && !upstreamDone) body.resume();
          drain();
        },
        (error: Error) => {
          writing = false;
          writeError = error;
          pending = [];
          body.destroy();
          finishIfIdle();
        },
      );
    };

    body.on('data', (chunk: Buffer) => {
      if (writeError) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= MAX_PENDING) body.pause();
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
  });
}
