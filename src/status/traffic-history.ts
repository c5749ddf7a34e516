import type { RequestRecord } from '../metrics/traffic.service.js';

// Bytes served by source and hits, per minute over the last 24 h, for the status page's charts.
// One flat array of 1440 minutes: a request costs a division, a compare and four adds (the hit
// path is benchmarked), memory is fixed (80 KiB), and a read sums minutes into wider buckets.

const MINUTE_MS = 60_000;
const MINUTES = 24 * 60;

const CACHE = 0;
/** Fill bytes sent to a request that joined a download another request started. */
const FILL_JOINED = 1;
/** Fill bytes sent to the request that started the download. */
const FILL_OWN = 2;
const UPSTREAM = 3;
const HITS = 4;
/** hit + miss + joined: requests for a file, whatever its answer came from. */
const FILES = 5;
const REQUESTS = 6;
const FIELDS = 7;

/** One bucket of the series, oldest first. */
export interface TrafficBucket {
  /** Start of the bucket, ms since epoch. */
  readonly start: number;
  readonly cacheBytes: number;
  readonly fillBytes: number;
  readonly upstreamBytes: number;
  /** Bytes that did not cross the upstream link for their request (as /api/v1/stats counts them). */
  readonly savedBytes: number;
  readonly hits: number;
  readonly fileRequests: number;
  readonly requests: number;
}

export class TrafficHistory {
  /** The minute each slot holds (-1: never written). */
  private readonly minutes = new Float64Array(MINUTES).fill(-1);
  private readonly values = new Float64Array(MINUTES * FIELDS);

  add(record: RequestRecord, now: number): void {
    const minute = Math.floor(now / MINUTE_MS);
    const base = (minute % MINUTES) * FIELDS;
    if (this.minutes[minute % MINUTES] !== minute) {
      this.minutes[minute % MINUTES] = minute;
      this.values.fill(0, base, base + FIELDS);
    }
    const values = this.values;
    values[base + REQUESTS] += 1;
    switch (record.source) {
      case 'cache':
        values[base + CACHE] += record.bytes;
        break;
      case 'fill':
        values[base + (record.result === 'joined' ? FILL_JOINED : FILL_OWN)] += record.bytes;
        break;
      case 'upstream':
        values[base + UPSTREAM] += record.bytes;
        break;
    }
    switch (record.result) {
      case 'hit':
        values[base + HITS] += 1;
        values[base + FILES] += 1;
        break;
      case 'miss':
      case 'joined':
        values[base + FILES] += 1;
        break;
    }
  }

  /**
   * `count` buckets of `minutesEach` minutes ending with the current minute's bucket, oldest
   * first; minutes with no traffic (or older than 24 h) count zero.
   */
  series(now: number, count: number, minutesEach: number): TrafficBucket[] {
    const current = Math.floor(now / MINUTE_MS);
    // Buckets are aligned to multiples of their width, so their edges do not move each minute.
    const lastStart = current - (current % minutesEach);
    const buckets: TrafficBucket[] = [];
    for (let i = count - 1; i >= 0; i--) {
      const start = lastStart - i * minutesEach;
      const sum = new Float64Array(FIELDS);
      for (let minute = start; minute < start + minutesEach && minute <= current; minute++) {
        if (minute <= current - MINUTES || this.minutes[minute % MINUTES] !== minute) continue;
        const base = (minute % MINUTES) * FIELDS;
        for (let f = 0; f < FIELDS; f++) sum[f] += this.values[base + f];
      }
      buckets.push({
        start: start * MINUTE_MS,
        cacheBytes: sum[CACHE],
        fillBytes: sum[FILL_JOINED] + sum[FILL_OWN],
        upstreamBytes: sum[UPSTREAM],
        savedBytes: sum[CACHE] + sum[FILL_JOINED],
        hits: sum[HITS],
        fileRequests: sum[FILES],
        requests: sum[REQUESTS],
      });
    }
    return buckets;
  }
}

/** The buckets summed: one period's totals. */
export function totalOf(buckets: readonly TrafficBucket[]): Omit<TrafficBucket, 'start'> {
  const total = {
    cacheBytes: 0,
    fillBytes: 0,
    upstreamBytes: 0,
    savedBytes: 0,
    hits: 0,
    fileRequests: 0,
    requests: 0,
  };
  for (const b of buckets) {
    total.cacheBytes += b.cacheBytes;
    total.fillBytes += b.fillBytes;
    total.upstreamBytes += b.upstreamBytes;
    total.savedBytes += b.savedBytes;
    total.hits += b.hits;
    total.fileRequests += b.fileRequests;
    total.requests += b.requests;
  }
  return total;
}
