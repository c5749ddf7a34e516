/**
 * The last bytes appended to a file, kept in memory as the chunks they arrived in: a reader that
 * keeps up with the writer takes them from here instead of reading the file, and every such
 * reader sends the same buffers. At most `maxBytes` beyond the newest chunk are kept, and at
 * most `maxChunks` chunks (a small chunk may keep the larger buffer it is a part of alive).
 */
export class RecentBytes {
  private chunks: Buffer[] = [];
  /** File offsets of the first held byte and of the byte after the last. */
  private start = 0;
  private end = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxChunks: number,
  ) {}

  /** `chunks` were written at `position`; anything held that does not end there is dropped. */
  append(position: number, chunks: readonly Buffer[]): void {
    if (position !== this.end) this.clear(position);
    for (const chunk of chunks) {
      this.chunks.push(chunk);
      this.end += chunk.length;
    }
    while (
      this.chunks.length > this.maxChunks ||
      (this.chunks.length > 1 && this.end - this.start - this.chunks[0].length >= this.maxBytes)
    ) {
      this.start += (this.chunks.shift() as Buffer).length;
    }
  }

  /** Bytes [from, to) as views of the held chunks, or undefined unless all of them are held. */
  slice(from: number, to: number): Buffer[] | undefined {
    if (from < this.start || to > this.end || from >= to) return undefined;
    const out: Buffer[] = [];
    let offset = this.start;
    for (const chunk of this.chunks) {
      const next = offset + chunk.length;
      if (next > from)
        out.push(chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, to - offset)));
      offset = next;
      if (offset >= to) break;
    }
    return out;
  }

  /** Drops everything; the next append is expected at `position`. */
  clear(position: number): void {
    this.chunks = [];
    this.start = position;
    this.end = position;
  }
}
