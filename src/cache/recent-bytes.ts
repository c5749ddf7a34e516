import { giveSlab, takeSlab } from '../common/slabs.js';

/** A slab and the file offset its first byte belongs at. */
interface Slab {
  bytes: Buffer;
  start: number;
  used: number;
}

/**
 * The newest bytes of a fill, in memory. append() copies what arrived from upstream into slabs
 * from a shared pool: Node reads every socket into a new buffer, and buffers that lived long
 * enough to reach V8's old generation (held by pending writes and by clients' sockets) stayed in
 * memory until a full GC, 20–60 MB of them. The socket's buffers now die young, and a slab goes
 * back to the pool once it is behind the window and nothing holds a view of it.
 *
 * Readers that keep up send views of the window instead of reading the file. Whoever hands views
 * to something that may outlive the call (a disk write, a socket write) first calls hold() with
 * their range and release() once it is done with them; a slab with held bytes is never reused.
 */
export class RecentBytes {
  private slabs: Slab[] = [];
  /** Slabs out of the window that someone may still hold a view of. */
  private waiting: Slab[] = [];
  /** The window: file offsets of the first readable byte and of the byte after the last appended one. */
  private start = 0;
  private end = 0;
  /** What each holder holds views of: file offsets [from, to). */
  private readonly holds = new Map<object, { from: number; to: number }>();

  constructor(private readonly maxBytes: number) {}

  /**
   * Copies `chunks`, which belong at `position`, into slabs; returns the copies. A position other
   * than the end of the last append drops everything held before.
   */
  append(position: number, chunks: readonly Buffer[]): Buffer[] {
    if (position !== this.end) this.clear(position);
    const copies: Buffer[] = [];
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.length; ) {
        const slab = this.writableSlab();
        const n = chunk.copy(slab.bytes, slab.used, done);
        copies.push(slab.bytes.subarray(slab.used, slab.used + n));
        slab.used += n;
        done += n;
        this.end += n;
      }
    }
    return copies;
  }

  /** Bytes before `written` stay readable until they are `maxBytes` behind it. */
  advance(written: number): void {
    this.start = Math.max(this.start, written - this.maxBytes);
  }

  /** Bytes [from, to) as views of the slabs, or undefined unless all of them are held. */
  slice(from: number, to: number): Buffer[] | undefined {
    if (from < this.start || to > this.end || from >= to) return undefined;
    const out: Buffer[] = [];
    for (const slab of this.slabs) {
      const slabEnd = slab.start + slab.used;
      if (slabEnd <= from) continue;
      out.push(slab.bytes.subarray(Math.max(0, from - slab.start), Math.min(slab.used, to - slab.start)));
      if (slabEnd >= to) break;
    }
    return out;
  }

  /** `holder` uses views of bytes [from, to) until release(holder). */
  hold(holder: object, from: number, to: number): void {
    this.holds.set(holder, { from, to });
  }

  release(holder: object): void {
    if (this.holds.delete(holder) && this.waiting.length > 0) this.recycle();
  }

  /** Drops everything; the next append is expected at `position`. */
  clear(position: number): void {
    this.waiting.push(...this.slabs);
    this.slabs = [];
    this.start = position;
    this.end = position;
    this.recycle();
  }

  private writableSlab(): Slab {
    const last = this.slabs.at(-1);
    if (last && last.used < last.bytes.length) return last;
    while (this.slabs.length > 0 && this.slabs[0].start + this.slabs[0].used <= this.start) {
      this.waiting.push(this.slabs.shift() as Slab);
    }
    this.recycle();
    const slab = { bytes: takeSlab(), start: this.end, used: 0 };
    this.slabs.push(slab);
    return slab;
  }

  /**
   * Gives back the slabs out of the window that no hold overlaps, so a client that stopped
   * reading keeps only the one or two slabs of its unsent read. (After a clear() the offsets
   * of old and new bytes overlap; the check is then only more cautious.)
   */
  private recycle(): void {
    this.waiting = this.waiting.filter((slab) => {
      for (const { from, to } of this.holds.values()) {
        if (from < slab.start + slab.used && to > slab.start) return true;
      }
      giveSlab(slab.bytes);
      return false;
    });
  }
}
