import { describe, expect, it } from 'vitest';
import { requestRecord } from '../metrics/testing/request-record.js';
import type { RequestRecord } from '../metrics/traffic.service.js';
import { NameCounter, TrafficStats } from './traffic-stats.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);

function record(
  name: string,
  result: RequestRecord['result'],
  source: RequestRecord['source'],
  bytes: number,
): RequestRecord {
  return requestRecord({ name, result, source, bytes });
}

describe('TrafficStats', () => {
  it('counts results and bytes by source; the hit ratio over file requests; saved = cache + joined fill bytes', () => {
    const stats = new TrafficStats();
    stats.add(record('a', 'miss', 'fill', 1000), T0);
    stats.add(record('a', 'joined', 'fill', 1000), T0);
    stats.add(record('a', 'hit', 'cache', 1000), T0);
    stats.add(record('a', 'hit', 'cache', 1000), T0);
    stats.add(record('b', 'miss', 'upstream', 500), T0);
    stats.add(record('c', 'not_found', 'none', 100), T0);
    const since = stats.sinceStart();
    expect(since.requests).toBe(6);
    expect(since.byResult).toEqual({ hit: 2, miss: 2, joined: 1, not_found: 1, refused: 0, error: 0 });
    expect(since.bytesBySource).toEqual({ cache: 2000, fill: 2000, upstream: 500, none: 100 });
    expect(since.bytesSavedUpstream).toBe(3000);
    expect(since.hitRatio).toBeCloseTo(2 / 5);
    expect(since.byteHitRatio).toBeCloseTo(2000 / 4600);
    expect(stats.last24h(T0)).toEqual(since);
  });

  it('has no ratio before any request', () => {
    const report = new TrafficStats().last24h(T0);
    expect(report.hitRatio).toBeNull();
    expect(report.byteHitRatio).toBeNull();
  });

  it('keeps the current hour and the 23 before it; totals since start keep everything', () => {
    const stats = new TrafficStats();
    stats.add(record('old', 'hit', 'cache', 10), T0);
    stats.add(record('new', 'hit', 'cache', 20), T0 + 23 * HOUR + 59 * 60_000);
    expect(stats.last24h(T0 + 23 * HOUR + 59 * 60_000).requests).toBe(2);
    expect(stats.last24h(T0 + 24 * HOUR).requests).toBe(1);
    expect(stats.topFiles(T0 + 24 * HOUR).map((f) => f.name)).toEqual(['new']);
    // A bucket reused a day later starts from zero.
    stats.add(record('again', 'hit', 'cache', 30), T0 + 24 * HOUR);
    expect(stats.last24h(T0 + 24 * HOUR).bytesBySource.cache).toBe(50);
    expect(stats.sinceStart().requests).toBe(3);
  });

  it('ranks files of the last 24 h by requests across hours', () => {
    const stats = new TrafficStats();
    for (let i = 0; i < 3; i++) stats.add(record('popular', 'hit', 'cache', 100), T0);
    for (let i = 0; i < 2; i++) stats.add(record('popular', 'hit', 'cache', 100), T0 + HOUR);
    for (let i = 0; i < 4; i++) stats.add(record('second', 'hit', 'cache', 1), T0 + HOUR);
    stats.add(record('third', 'miss', 'fill', 5000), T0 + HOUR);
    expect(stats.topFiles(T0 + HOUR, 2)).toEqual([
      { name: 'popular', requests: 5, bytes: 500 },
      { name: 'second', requests: 4, bytes: 4 },
    ]);
  });

  it('stays bounded with 100,000 distinct names and still finds the busy ones', () => {
    const stats = new TrafficStats(1000);
    for (let i = 0; i < 100_000; i++) {
      stats.add(record(`rare-${i}`, 'hit', 'cache', 1), T0);
      if (i % 100 === 0) stats.add(record('busy', 'hit', 'cache', 1), T0);
    }
    const [top] = stats.topFiles(T0, 1);
    expect(top.name).toBe('busy');
    expect(top.requests).toBe(1000);
  });
});

describe('NameCounter', () => {
  it('never holds more than its capacity, dropping the least requested half when full', () => {
    const counter = new NameCounter(4);
    for (const name of ['a', 'a', 'a', 'b', 'b', 'c', 'd']) counter.add(name, 1);
    expect(counter.size).toBe(4);
    counter.add('e', 1);
    expect(counter.size).toBe(3);
    expect([...counter.entries()].map(([name]) => name)).toEqual(['a', 'b', 'e']);
  });
});
