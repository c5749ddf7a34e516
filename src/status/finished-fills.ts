// The downloads that ended lately, for the status page's "cached" (or "failed") rows: the request
// that started a fill ends with it, so its Traffic record is the fill's end. Bounded and short-lived.

const KEPT = 8;
const KEPT_MS = 15 * 60_000;

export class FinishedFills {
  private readonly ended: { name: string; at: number }[] = [];

  add(name: string, at: number): void {
    const i = this.ended.findIndex((e) => e.name === name);
    if (i >= 0) this.ended.splice(i, 1);
    this.ended.unshift({ name, at });
    if (this.ended.length > KEPT) this.ended.length = KEPT;
  }

  /** The most recent first, none older than KEPT_MS. */
  recent(now: number): { name: string; at: number }[] {
    return this.ended.filter((e) => now - e.at <= KEPT_MS);
  }
}
