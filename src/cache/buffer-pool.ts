import { allocateReadBuffer } from '../common/slabs.js';

/**
 * Read buffers that are reused once the socket has taken their bytes: serving a file allocates
 * nothing per request, so no garbage and no external-memory pressure that forces full GCs.
 * Small buffers for small bodies; large ones for big bodies while there are fewer than
 * `maxLarge` of them (a response waiting on a slow client holds its buffer), else small ones.
 */
export class BufferPool {
  private readonly freeSmall: Buffer[] = [];
  private readonly freeLarge: Buffer[] = [];
  private largeCount = 0;
  /** A large buffer that never came back (its response vanished) is counted out when collected. */
  private readonly lostLarge = new FinalizationRegistry<undefined>(() => {
    this.largeCount -= 1;
  });

  constructor(
    readonly smallSize: number,
    readonly largeSize: number,
    private readonly maxLarge: number,
    /** Small buffers kept for reuse, at most (more may be in use). */
    private readonly maxFreeSmall: number,
  ) {}

  /** A buffer for a body that has `remaining` bytes left to send. */
  take(remaining: number): Buffer {
    if (remaining > this.smallSize) {
      const large = this.freeLarge.pop();
      if (large) return large;
      if (this.largeCount < this.maxLarge) {
        this.largeCount += 1;
        const buffer = allocateReadBuffer(this.largeSize);
        this.lostLarge.register(buffer, undefined);
        return buffer;
      }
    }
    return this.freeSmall.pop() ?? allocateReadBuffer(this.smallSize);
  }

  /** Returns a buffer from take() once nothing refers to its bytes any more. */
  give(buffer: Buffer): void {
    if (buffer.length === this.largeSize) this.freeLarge.push(buffer);
    else if (this.freeSmall.length < this.maxFreeSmall) this.freeSmall.push(buffer);
  }
}
