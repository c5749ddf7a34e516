import { promises as fs, writevSync } from 'node:fs';

/** The first write of a fill up to this size is synchronous (see NodeDiskIo). */
const FIRST_WRITE_SYNC = 256 * 1024;

/**
 * The one place fill bytes reach the disk. Tests replace it (DI token DiskIo) to inject
 * ENOSPC and other write faults without a real full disk.
 */
export abstract class DiskIo {
  abstract writev(handle: fs.FileHandle, chunks: Buffer[], position: number): Promise<number>;
}

/**
 * The first bytes of a fill are written synchronously: a client waits for them, and a small
 * write into the page cache costs less than the thread pool's round trip (0.3–1 ms here). Later
 * writes go through the thread pool, so that a slow disk never blocks the event loop.
 */
export class NodeDiskIo extends DiskIo {
  async writev(handle: fs.FileHandle, chunks: Buffer[], position: number): Promise<number> {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    let done = 0;
    if (position === 0 && total <= FIRST_WRITE_SYNC) done = writevSync(handle.fd, chunks, 0);
    while (done < total) {
      const rest = done === 0 ? chunks : remaining(chunks, done);
      const { bytesWritten } = await handle.writev(rest, position + done);
      done += bytesWritten;
    }
    return total;
  }
}

function remaining(chunks: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    out.push(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
  return out;
}
