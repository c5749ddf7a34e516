import { HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/** 503 with a Retry-After the error filter puts into the response. */
export class RetryLater extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }

  override getStatus(): number {
    return HttpStatus.SERVICE_UNAVAILABLE;
  }
}

/** Caps simultaneous fills; misses beyond the cap wait in a bounded queue for a bounded time. */
export class FillSlots {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly maxQueue: number,
    private readonly waitMs: number,
  ) {}

  /** Resolves with a release function, or rejects with RetryLater when the wait runs out. */
  acquire(): Promise<() => void> {
    if (this.active < this.max) {
      this.active += 1;
      return Promise.resolve(this.releaser());
    }
    const retryAfter = Math.max(1, Math.ceil(this.waitMs / 1000));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new RetryLater(`Busy: ${this.max} downloads running and the queue is full`, retryAfter),
      );
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(grant), 1);
        reject(new RetryLater(`Busy: no download slot freed within ${this.waitMs} ms`, retryAfter));
      }, this.waitMs);
      this.queue.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}

/** A gauge to count with (prom-client's Gauge fits). */
interface Counted {
  inc(): void;
  dec(): void;
}

/**
 * One fill's hold on a slot of FillSlots: taken for each upstream transfer, given back while the
 * fill hashes and commits, taken again only if another source must be tried. Keeps the queued
 * and active gauges.
 */
export class DownloadSlot {
  private release: (() => void) | undefined;

  constructor(
    private readonly slots: FillSlots,
    private readonly gauges: { readonly fillsQueued: Counted; readonly fillsActive: Counted },
  ) {}

  /** Resolves once the slot is held (at once if it is); rejects with RetryLater as FillSlots.acquire. */
  async take(): Promise<void> {
    if (this.release) return;
    this.gauges.fillsQueued.inc();
    try {
      this.release = await this.slots.acquire();
    } finally {
      this.gauges.fillsQueued.dec();
    }
    this.gauges.fillsActive.inc();
  }

  give(): void {
    if (!this.release) return;
    this.release();
    this.release = undefined;
    this.gauges.fillsActive.dec();
  }
}
