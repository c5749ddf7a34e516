import { readdirSync, readlinkSync } from 'node:fs';
import { sleep } from './upstream-server.js';

/** This process's open descriptors, and how many point at deleted files. */
export interface FdCensus {
  open: number;
  deleted: number;
}

export function countFds(): FdCensus {
  let open = 0;
  let deleted = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the directory's own descriptor among them)
    }
    open += 1;
    if (target.endsWith(' (deleted)')) deleted += 1;
  }
  return { open, deleted };
}

/**
 * Waits (bounded) until the descriptors are back to `baseline`: at most `slack` more open ones,
 * no more deleted ones. Resolves with the last count and how long it took.
 */
export async function fdsSettled(
  baseline: FdCensus,
  slack: number,
  timeoutMs: number,
): Promise<FdCensus & { ms: number; settled: boolean }> {
  const started = performance.now();
  for (;;) {
    const now = countFds();
    const settled = now.open <= baseline.open + slack && now.deleted <= baseline.deleted;
    const ms = performance.now() - started;
    if (settled || ms > timeoutMs) return { ...now, ms, settled };
    await sleep(25);
  }
}

/** Samples the resident set size until stop(); the highest sample in bytes. */
export class RssSampler {
  max = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => {
      this.max = Math.max(this.max, process.memoryUsage.rss());
    }, intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    this.max = Math.max(this.max, process.memoryUsage.rss());
    return this.max;
  }
}
