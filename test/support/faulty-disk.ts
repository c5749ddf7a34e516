import type { promises as fs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { DiskIo, NodeDiskIo } from '../../src/cache/disk-io.js';

/** The error Node's fs raises when a write hits a full file system. */
export function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });
}

/**
 * The real write path (NodeDiskIo) with a full disk that can be switched on: once armed with
 * `failAfter(n)`, the next `n` bytes are written and any byte beyond them fails with ENOSPC
 * (the bytes of the failing call that still fit are written first, as a real short write
 * followed by ENOSPC would). Disarmed, it is NodeDiskIo.
 */
export class FaultyDiskIo extends DiskIo {
  /** Bytes written through this DiskIo in total (armed or not). */
  bytesWritten = 0;
  /** How many writes failed with ENOSPC. */
  faults = 0;
  private readonly real = new NodeDiskIo();
  private budget: number | undefined;

  /** From now on, at most `bytes` more bytes can be written; then every write fails. */
  failAfter(bytes: number): void {
    this.budget = bytes;
  }

  disarm(): void {
    this.budget = undefined;
  }

  override async writev(handle: fs.FileHandle, chunks: Buffer[], position: number): Promise<number> {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (this.budget === undefined || total <= this.budget) {
      const done = await this.real.writev(handle, chunks, position);
      if (this.budget !== undefined) this.budget -= done;
      this.bytesWritten += done;
      return done;
    }
    const fits = this.budget;
    this.budget = 0;
    if (fits > 0) {
      await this.real.writev(handle, [Buffer.concat(chunks).subarray(0, fits)], position);
      this.bytesWritten += fits;
    }
    this.faults += 1;
    throw enospc();
  }
}

/** Free bytes (for unprivileged users) of the file system holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}
