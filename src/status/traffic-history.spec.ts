import { describe, expect, it } from 'vitest';
import { requestRecord } from '../metrics/testing/request-record.js';
import type { RequestRecord } from '../metrics/traffic.service.js';
import { TrafficHistory, totalOf } from './traffic-history.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
// A multiple of 30 minutes, so 30-minute buckets start there.
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (30 * MINUTE));

function record(
  result: RequestRecord['result'],
  source: RequestRecord['source'],
  bytes: number,
): RequestRecord {
  return requestRecord({ result, source, bytes });
}

describe('TrafficHistory', () => {
  it('counts bytes by source, hits and file requests per minute; saved = cache + joined fill bytes', () => {
    const history = new TrafficHistory();
    history.add(record('hit', 'cache', 100), T0);
    history.add(record('miss', 'fill', 1000), T0 + 1000);
    history.add(record('joined', 'fill', 1000), T0 + 2000);
    history.add(record('not_found', 'none', 50), T0 + 3000);
    history.add(record('hit', 'upstream', 10), T0 + MINUTE);

    const [first, second] = history.series(T0 + MINUTE, 2, 1);
    expect(first).toEqual({
      start: T0,
      cacheBytes: 100,
      fillBytes: 2000,
      upstreamBytes: 0,
      savedBytes: 1100,
      hits: 1,
      fileRequests: 3,
      requests: 4,
    });
    expect(second).toMatchObject({ start: T0 + MINUTE, upstreamBytes: 10, hits: 1, requests: 1 });
  });

  it('sums minutes into aligned wider buckets, oldest first, zero where nothing happened', () => {
    const history = new TrafficHistory();
    history.add(record('hit', 'cache', 1), T0 + 5 * MINUTE);
    history.add(record('hit', 'cache', 2), T0 + 29 * MINUTE);
    history.add(record('hit', 'cache', 4), T0 + 30 * MINUTE);
    const series = history.series(T0 + 40 * MINUTE, 3, 30);
    expect(series.map((b) => [b.start - T0, b.cacheBytes])).toEqual([
      [-30 * MINUTE, 0],
      [0, 3],
      [30 * MINUTE, 4],
    ]);
    expect(totalOf(series)).toMatchObject({ cacheBytes: 7, hits: 3, requests: 3 });
  });

  it('forgets a minute 24 h later: its slot is reused, and it is never read as a recent one', () => {
    const history = new TrafficHistory();
    history.add(record('hit', 'cache', 7), T0);
    // The same slot a day later starts from zero.
    history.add(record('hit', 'cache', 1), T0 + DAY);
    expect(totalOf(history.series(T0 + DAY, 48, 30)).cacheBytes).toBe(1);
    // A day later with no traffic, the old minute is outside the window.
    const quiet = new TrafficHistory();
    quiet.add(record('hit', 'cache', 7), T0);
    expect(totalOf(quiet.series(T0 + DAY, 48, 30)).cacheBytes).toBe(0);
    expect(totalOf(quiet.series(T0 + DAY - MINUTE, 48, 30)).cacheBytes).toBe(7);
  });
});
