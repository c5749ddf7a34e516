/** Which source wrote which bytes of a partial file: [from, to) per source, in file order. */
export interface Contribution {
  readonly source: string;
  readonly from: number;
  to: number;
}

/**
 * The sources behind the bytes of one partial file, so that a digest failure blames the right
 * one: a file from a single source blames it; bytes from several are fetched whole again first.
 */
export class Contributions {
  private list: Contribution[] = [];

  /** `source` writes from `from` on; bytes at and after `from` are no longer anyone else's. */
  start(source: string, from: number): void {
    this.truncate(from);
    this.list.push({ source, from, to: from });
  }

  /** The current source has written up to `to`. */
  reach(to: number): void {
    const last = this.list.at(-1);
    if (last) last.to = Math.max(last.to, to);
  }

  /** The bytes from `position` on were thrown away. */
  truncate(position: number): void {
    this.list = this.list
      .filter((c) => c.from < position)
      .map((c) => ({ source: c.source, from: c.from, to: Math.min(c.to, position) }));
  }

  /** Every source that wrote at least one byte, in file order, each once. */
  sources(): string[] {
    return [...new Set(this.list.filter((c) => c.to > c.from).map((c) => c.source))];
  }

  /** The non-empty ranges, in file order. */
  ranges(): Contribution[] {
    return this.list.filter((c) => c.to > c.from).map((c) => ({ ...c }));
  }
}
