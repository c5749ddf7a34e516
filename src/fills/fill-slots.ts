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

/** The Retry-After of a miss that waited `waitMs` in vain: that long again, at least 1 s. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** How long and how many misses may wait for a slot in `FillSlots.acquire`. */
export interface QueueBounds {
  readonly maxQueue: number;
  readonly waitMs: number;
}

/**
 * Caps simultaneous work. `acquire` (new downloads) waits in a queue bounded in length and time;
 * `wait` (work already under way, which must finish) waits as long as it takes.
 */
export class FillSlots {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  /** Without `bounds` only `wait` may be used. */
  constructor(
    private readonly max: number,
    private readonly bounds?: QueueBounds,
  ) {}

  /** Resolves with a release function, or rejects with RetryLater when the wait runs out. */
  acquire(): Promise<() => void> {
    if (!this.bounds) throw new Error('FillSlots without queue bounds: use wait()');
    const { maxQueue, waitMs } = this.bounds;
    const free = this.takeFree();
    if (free) return Promise.resolve(free);
    const retryAfter = retryAfterSeconds(waitMs);
    if (this.queue.length >= maxQueue) {
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
        reject(new RetryLater(`Busy: no download slot freed within ${waitMs} ms`, retryAfter));
      }, waitMs);
      this.queue.push(grant);
    });
  }

  /** Resolves with a release function once a slot is free, however long that takes (for work already under way). */
  wait(): Promise<() => void> {
    const free = this.takeFree();
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => this.queue.push(() => resolve(this.releaser())));
  }

  /** A free slot's release function, the slot now taken; undefined when none is free. */
  private takeFree(): (() => void) | undefined {
    if (this.active >= this.max) return undefined;
    this.active += 1;
    return this.releaser();
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
 * One fill's hold on its slots. A download slot is taken for each upstream transfer; when a
 * transfer is over it is traded for a settling slot (as many as download slots), held while the
 * fill hashes and commits. Waiting for a settling slot keeps the download slot, so fills behind
 * on hashing never pile up with their descriptors; a fill that must try another source takes a
 * download slot again. Keeps the queued and active gauges (active: downloads).
 */
export class DownloadSlot {
  private release: (() => void) | undefined;
  private settled: (() => void) | undefined;

  constructor(
    private readonly slots: FillSlots,
    private readonly settling: FillSlots,
    private readonly gauges: { readonly fillsQueued: Counted; readonly fillsActive: Counted },
  ) {}

  /** Resolves once the download slot is held (at once if it is); rejects with RetryLater as FillSlots.acquire. */
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

  /** The transfer is over: trades the download slot for a settling slot. */
  async settle(): Promise<void> {
    this.settled ??= await this.settling.wait();
    this.giveDownload();
  }

  /** The fill is over: gives back whatever it holds. */
  end(): void {
    this.giveDownload();
    this.settled?.();
    this.settled = undefined;
  }

  private giveDownload(): void {
    if (!this.release) return;
    this.release();
    this.release = undefined;
    this.gauges.fillsActive.dec();
  }
}
