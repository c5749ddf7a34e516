import { describe, expect, it } from 'vitest';
import type { StatsReport } from '../admin/stats.service.js';
import type { TrafficReport } from '../admin/traffic-stats.js';
import { formatFills, formatStatus } from './status-format.js';

const GiB = 1024 ** 3;

const traffic = (hits: number, misses: number): TrafficReport => ({
  requests: hits + misses,
  byResult: { hit: hits, miss: misses, joined: 0, not_found: 0, refused: 0, error: 0 },
  bytesBySource: { cache: hits * GiB, fill: misses * GiB, upstream: 0, none: 0 },
  bytesSavedUpstream: hits * GiB,
  hitRatio: hits / (hits + misses),
  byteHitRatio: hits / (hits + misses),
});

const stats: StatsReport = {
  startedAt: '2024-10-01T10:00:00.000Z',
  uptimeSeconds: 3 * 3600 + 720,
  sinceStart: traffic(3, 1),
  last24h: traffic(1, 1),
  topFiles24h: [{ name: 'firefox-131.0.source.tar.xz', requests: 3, bytes: 3 * GiB }],
  cache: {
    files: 12,
    bytes: 45 * GiB,
    limitBytes: 50 * GiB,
    limitShare: 0.9,
    lowWatermarkBytes: 45 * GiB,
    filesystem: { sizeBytes: 500 * GiB, freeBytes: 120 * GiB, minFreeBytes: 20 * GiB },
    headroomBytes: 5 * GiB,
  },
  note: '',
};

describe('formatStatus', () => {
  it('reads as text: readiness and checks, cache against its limits, traffic in two columns, top files, fills', () => {
    const text = formatStatus({
      url: 'http://cache:8080',
      readiness: {
        status: 'ok',
        details: {
          cache: { status: 'up', dir: '/var/cache/distfiles' },
          index: { status: 'up', built: true, distfiles: 31234, repositories: ['gentoo', 'guru'] },
          disk: { status: 'up', freeBytes: 120 * GiB },
        },
      },
      stats,
      fills: [],
    });
    expect(text.split('\n').slice(0, 4)).toEqual([
      'portcache at http://cache:8080: ready',
      '  cache: up (dir /var/cache/distfiles)',
      '  index: up, 31234 distfiles from gentoo, guru',
      '  disk: up (freeBytes 120.0 GiB)',
    ]);
    expect(text).toContain('Cache: 12 files, 45.0 GiB');
    expect(text).toContain('limit 50.0 GiB [######################--] 90.0% used (evicts down to 45.0 GiB)');
    expect(text).toContain('filesystem: 120.0 GiB free of 500.0 GiB, keeps 20.0 GiB free');
    expect(text).toContain('room before the janitor removes files: 5.0 GiB');
    expect(text).toMatch(/since start \(3h 12m\)\s+last 24 h/);
    expect(text).toMatch(/hit ratio\s+75\.0%\s+50\.0%/);
    expect(text).toMatch(/saved upstream\s+3\.0 GiB\s+1\.0 GiB/);
    expect(text).toMatch(/3 req\s+3\.0 GiB {2}firefox-131\.0\.source\.tar\.xz/);
    expect(text).toContain('Fills: none running');
  });

  it('says NOT READY, and what it could not get', () => {
    const text = formatStatus({
      url: 'http://cache:8080',
      readiness: { status: 'error', details: { cache: { status: 'down', error: 'EACCES' } } },
      stats: 'Cannot GET /api/v1/stats',
      fills: 'Cannot GET /api/v1/fills',
    });
    expect(text).toContain('portcache at http://cache:8080: NOT READY');
    expect(text).toContain('  cache: down (error EACCES)');
    expect(text).toContain('statistics unavailable: Cannot GET /api/v1/stats');
    expect(text).toContain('fills unavailable: Cannot GET /api/v1/fills');
  });
});

describe('formatFills', () => {
  it('draws a bar per fill with bytes of total, rate, clients and source; a fill without a source yet waits', () => {
    expect(
      formatFills([
        {
          name: 'big-1.0.tar.xz',
          source: 'https://mirror/distfiles/ab/big-1.0.tar.xz',
          status: 'filling',
          written: 256 * 1024 * 1024,
          expectedSize: 1024 * 1024 * 1024,
          bytesPerSecond: 2 * 1024 * 1024,
          clients: 1,
        },
        {
          name: 'queued-2.0.tar.gz',
          source: null,
          status: 'waiting',
          written: 0,
          expectedSize: null,
          bytesPerSecond: 0,
          clients: 0,
        },
      ]),
    ).toEqual([
      'Fills (2):',
      '  big-1.0.tar.xz',
      '    [######------------------]  25.0%  256.0 MiB of 1.0 GiB  2.0 MiB/s  1 client',
      '    from https://mirror/distfiles/ab/big-1.0.tar.xz',
      '  queued-2.0.tar.gz',
      '    waiting for a download slot or a source to answer',
    ]);
  });
});
