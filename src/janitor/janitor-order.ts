/** Orderings and wording for the janitor's plan (janitor-plan.ts); pure. */

interface Ordered {
  readonly name: string;
  readonly lastAccessMs: number;
  readonly referenced: boolean;
}

/** Least recently used first; ties by name (then position) so the same input gives the same plan. */
export function lruOrder(files: readonly Ordered[]): (a: number, b: number) => number {
  // The times copied into a typed array once: far faster to compare than loads from the file objects.
  const last = Float64Array.from(files, (f) => f.lastAccessMs);
  return (a, b) => {
    if (last[a] !== last[b]) return last[a] - last[b];
    const na = files[a].name;
    const nb = files[b].name;
    // Plain comparison, not localeCompare: locale-independent and much faster.
    if (na !== nb) return na < nb ? -1 : 1;
    return a - b;
  };
}

/**
 * The candidates of the size and free-space policies, in eviction order: unreferenced files first (when the
 * index can be trusted to say so), each group LRU. Sorted once, on first use, and walked with one cursor
 * across both policies, skipping files an earlier policy took.
 */
export class EvictionQueue {
  private order: number[] | undefined;
  private cursor = 0;

  constructor(
    private readonly files: readonly Ordered[],
    private readonly trustReferences: boolean,
    private readonly taken: Uint8Array,
  ) {}

  /** The index of the next file to evict, or undefined when none is left. */
  next(): number | undefined {
    if (this.order === undefined) this.order = this.sort();
    const order = this.order;
    while (this.cursor < order.length && this.taken[order[this.cursor]]) this.cursor++;
    return this.cursor < order.length ? order[this.cursor++] : undefined;
  }

  private sort(): number[] {
    const lru = lruOrder(this.files);
    if (!this.trustReferences) return Array.from(this.files, (_, i) => i).sort(lru);
    const unreferenced: number[] = [];
    const referenced: number[] = [];
    this.files.forEach((f, i) => {
      (f.referenced ? referenced : unreferenced).push(i);
    });
    return [...unreferenced.sort(lru), ...referenced.sort(lru)];
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `512 B`, `1.5 GiB`: for the notes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 0.1 → `10 %`. */
export function formatShare(share: number): string {
  return `${Number((share * 100).toFixed(2))} %`;
}

/** `1 file`, `2 files`. */
export function formatFiles(count: number): string {
  return count === 1 ? '1 file' : `${count} files`;
}
