import { promises as fs } from 'node:fs';

/**
 * The one place fill bytes reach the disk. Tests replace it (DI token DiskIo) to inject
 * ENOSPC and other write faults without a real full disk.
 */
export abstract class DiskIo {
  abstract writev(handle: fs.FileHandle, chunks: Buffer[], position: number): Promise<number>;
}

export class NodeDiskIo extends DiskIo {
  async writev(handle: fs.FileHandle, chunks: Buffer[], position: number): Promise<number> {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    let done = 0;
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
