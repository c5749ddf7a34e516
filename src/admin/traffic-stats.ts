import type { BodySource, RequestRecord, RequestResult } from '../metrics/traffic.service.js';

// The admin API's request statistics, from Traffic's records: totals since start and hourly
// buckets over the last 24 h, with the most requested files of each hour in a bounded counter
// (a cache sees 100,000 distinct names; memory must not grow with them).

const HOUR_MS = 3_600_000;
const HOURS = 24;
/** Names counted per hour; past it the least requested half is dropped (see NameCounter). */
const NAMES_PER_HOUR = 1000;
const RESULTS: readonly RequestResult[] = ['hit', 'miss', 'joined', 'not_found', 'refused', 'error'];
const SOURCES: readonly BodySource[] = ['cache', 'fill', 'upstream', 'none'];

/** Requests and bytes over some period. */
export interface TrafficCounts {
  requests: number;
  byResult: Record<RequestResult, number>;
  /** Bytes written to clients (headers included) by where the body came from. */
  bytesBySource: Record<BodySource, number>;
  /** Bytes that did not cross the upstream link for the request (see SAVED_NOTE). */
  bytesSavedUpstream: number;
}

export interface TopFile {
  name: string;
  requests: number;
  bytes: number;
}

export interface TrafficReport extends TrafficCounts {
  /** hit / (hit + miss + joined): how many file requests the cache answered without a download. */
  hitRatio: number | null;
  /** Bytes from the cache over all bytes served. */
  byteHitRatio: number | null;
}

export const SAVED_NOTE =
  'bytesSavedUpstream: bytes sent to clients from the cache, plus bytes sent to requests that ' +
  'joined a download another request had started; all other bytes crossed the upstream link ' +
  'for the request they were sent to. Bytes include response headers. last24h: the current ' +
  'hour and the 23 before it. topFiles: by requests, approximate (the least requested names of ' +
  'an hour are forgotten beyond 1000 per hour).';

function emptyCounts(): TrafficCounts {
  return {
    requests: 0,
    byResult: Object.fromEntries(RESULTS.map((r) => [r, 0])) as Record<RequestResult, number>,
    bytesBySource: Object.fromEntries(SOURCES.map((s) => [s, 0])) as Record<BodySource, number>,
    bytesSavedUpstream: 0,
  };
}

function addRecord(counts: TrafficCounts, record: RequestRecord): void {
  counts.requests += 1;
  counts.byResult[record.result] = (counts.byResult[record.result] ?? 0) + 1;
  counts.bytesBySource[record.source] = (counts.bytesBySource[record.source] ?? 0) + record.bytes;
  if (record.source === 'cache' || (record.source === 'fill' && record.result === 'joined'))
    counts.bytesSavedUpstream += record.bytes;
}

function addCounts(into: TrafficCounts, from: TrafficCounts): void {
  into.requests += from.requests;
  for (const r of RESULTS) into.byResult[r] += from.byResult[r];
  for (const s of SOURCES) into.bytesBySource[s] += from.bytesBySource[s];
  into.bytesSavedUpstream += from.bytesSavedUpstream;
}

export function report(counts: TrafficCounts): TrafficReport {
  const { hit, miss, joined } = counts.byResult;
  const files = hit + miss + joined;
  const bytes = SOURCES.reduce((sum, s) => sum + counts.bytesBySource[s], 0);
  return {
    ...counts,
    hitRatio: files > 0 ? hit / files : null,
    byteHitRatio: bytes > 0 ? counts.bytesBySource.cache / bytes : null,
  };
}

/**
 * Requests and bytes per name, at most `capacity` names: when full, the least requested half is
 * dropped (one sort per capacity/2 new names, so O(log n) a record). A name that keeps being
 * requested stays; one dropped and requested again starts over, so counts are lower bounds.
 */
export class NameCounter {
  private readonly counts = new Map<string, { requests: number; bytes: number }>();

  constructor(private readonly capacity = NAMES_PER_HOUR) {}

  add(name: string, bytes: number): void {
    const count = this.counts.get(name);
    if (count) {
      count.requests += 1;
      count.bytes += bytes;
      return;
    }
    if (this.counts.size >= this.capacity) this.prune();
    this.counts.set(name, { requests: 1, bytes });
  }

  get size(): number {
    return this.counts.size;
  }

  entries(): IterableIterator<[string, { requests: number; bytes: number }]> {
    return this.counts.entries();
  }

  private prune(): void {
    const kept = [...this.counts].sort((a, b) => b[1].requests - a[1].requests).slice(0, this.capacity >> 1);
    this.counts.clear();
    for (const [name, count] of kept) this.counts.set(name, count);
  }
}

interface HourBucket {
  hour: number;
  counts: TrafficCounts;
  names: NameCounter;
}

export class TrafficStats {
  private readonly total = emptyCounts();
  private readonly buckets: Array<HourBucket | undefined> = new Array(HOURS);

  constructor(private readonly namesPerHour = NAMES_PER_HOUR) {}

  add(record: RequestRecord, now: number): void {
    addRecord(this.total, record);
    const bucket = this.bucketAt(now);
    addRecord(bucket.counts, record);
    if (record.name !== undefined) bucket.names.add(record.name, record.bytes);
  }

  sinceStart(): TrafficReport {
    return report(this.total);
  }

  /** The current hour and the HOURS - 1 before it. */
  last24h(now: number): TrafficReport {
    const counts = emptyCounts();
    for (const bucket of this.recent(now)) addCounts(counts, bucket.counts);
    return report(counts);
  }

  /** The most requested names of the last 24 h, most first (ties: more bytes first, then name). */
  topFiles(now: number, limit = 10): TopFile[] {
    const merged = new Map<string, TopFile>();
    for (const bucket of this.recent(now)) {
      for (const [name, count] of bucket.names.entries()) {
        const top = merged.get(name);
        if (top) {
          top.requests += count.requests;
          top.bytes += count.bytes;
        } else merged.set(name, { name, requests: count.requests, bytes: count.bytes });
      }
    }
    return [...merged.values()]
      .sort((a, b) => b.requests - a.requests || b.bytes - a.bytes || (a.name < b.name ? -1 : 1))
      .slice(0, limit);
  }

  private bucketAt(now: number): HourBucket {
    const hour = Math.floor(now / HOUR_MS);
    const slot = hour % HOURS;
    let bucket = this.buckets[slot];
    if (bucket?.hour !== hour) {
      bucket = { hour, counts: emptyCounts(), names: new NameCounter(this.namesPerHour) };
      this.buckets[slot] = bucket;
    }
    return bucket;
  }

  private recent(now: number): HourBucket[] {
    const hour = Math.floor(now / HOUR_MS);
    return this.buckets.filter(
      (b): b is HourBucket => b !== undefined && b.hour > hour - HOURS && b.hour <= hour,
    );
  }
}
