import type { StatsReport } from '../../admin/stats.service.js';
import type { SourceSnapshot } from '../source-view.js';
import type { StatusInputs } from '../status-view.js';
import { TrafficHistory } from '../traffic-history.js';

// Inputs for the status page's pure views: one healthy instance an hour into its life.

export const NOW = 1_700_000_000_000;
export const MiB = 1024 * 1024;

export function source(overrides: Partial<SourceSnapshot> = {}): SourceSnapshot {
  return {
    url: 'http://mirror.example',
    circuit: 'closed',
    consecutiveFailures: 0,
    openUntil: null,
    active: 0,
    limit: 4,
    ttfbMs: 35,
    bytesPerSecond: 10 * MiB,
    score: 1640,
    requests: 10,
    failures: 0,
    bytes: 20 * MiB,
    badFiles: 0,
    lastBadFile: null,
    lastError: null,
    ...overrides,
  };
}

function period(hit: number, miss: number, cache: number, fill: number) {
  return {
    requests: hit + miss,
    byResult: { hit, miss, joined: 0, not_found: 0, refused: 0, error: 0 },
    bytesBySource: { cache, fill, upstream: 0, none: 0 },
    bytesSavedUpstream: cache,
    hitRatio: hit + miss > 0 ? hit / (hit + miss) : null,
    byteHitRatio: null,
  };
}

export function inputs(overrides: Partial<StatusInputs> = {}): StatusInputs {
  const history = new TrafficHistory();
  return {
    now: NOW,
    startedAt: NOW - 3_600_000,
    health: { ready: true, problems: [], degraded: [] },
    fills: [],
    finished: [],
    mirrors: [],
    hosts: [],
    stats: {
      startedAt: new Date(NOW - 3_600_000).toISOString(),
      uptimeSeconds: 3600,
      sinceStart: period(3, 1, 6 * MiB, 2 * MiB),
      last24h: period(3, 1, 6 * MiB, 2 * MiB),
      topFiles24h: [{ name: 'a-1.tar.gz', requests: 4, bytes: 8 * MiB }],
      cache: {
        files: 2,
        bytes: 256 * MiB,
        limitBytes: 1024 * MiB,
        limitShare: 0.25,
        lowWatermarkBytes: 768 * MiB,
        filesystem: { sizeBytes: 10_240 * MiB, freeBytes: 5120 * MiB, minFreeBytes: null },
        headroomBytes: 768 * MiB,
      },
      note: '',
    } satisfies StatsReport,
    lastHour: history.series(NOW, 60, 1),
    lastDay: history.series(NOW, 48, 30),
    index: {
      health: { usable: true },
      distfiles: 1234,
      repositories: [{ name: 'gentoo', location: '/var/db/repos/gentoo' }],
      synced: [],
      lastReadAt: NOW - 120_000,
    },
    janitor: undefined,
    ...overrides,
  };
}
