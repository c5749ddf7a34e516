import { describe, expect, it } from 'vitest';
import { assessDegradation, type DegradationInput, degradedCauses } from './degradation.js';

const GiB = 1024 ** 3;
const HOUR = 3_600_000;
const NOW = Date.parse('2026-05-01T12:00:00Z');

const healthy: DegradationInput = {
  now: NOW,
  mirrors: [
    { url: 'https://a.example', circuit: 'closed', openUntil: null },
    { url: 'https://b.example/gentoo', circuit: 'closed', openUntil: null },
  ],
  disk: { freeBytes: 50 * GiB, sizeBytes: 100 * GiB },
  minFree: undefined,
  index: { usable: true },
  indexed: { distfiles: 10, repositories: ['gentoo'] },
  reposConfigured: true,
  synced: [],
  syncIntervalMs: HOUR,
  startedAt: NOW - HOUR,
};

const with_ = (changes: Partial<DegradationInput>) => assessDegradation({ ...healthy, ...changes });

describe('assessDegradation', () => {
  it('finds nothing on a healthy instance', () => {
    const found = assessDegradation(healthy);
    expect(Object.values(found).every((finding) => !finding.degraded)).toBe(true);
    expect(degradedCauses(found)).toEqual({
      mirrors_down: false,
      disk_low: false,
      index_stale: false,
      sync_failing: false,
    });
  });

  it('is mirrors_down only when every configured mirror is open, naming each', () => {
    const open = (url: string) => ({ url, circuit: 'open', openUntil: '2026-05-01T12:00:30.000Z' });
    expect(with_({ mirrors: [open('https://a.example'), healthy.mirrors[1]] }).mirrors.degraded).toBe(false);
    expect(
      with_({ mirrors: [open('https://a.example'), { ...healthy.mirrors[1], circuit: 'half-open' }] }).mirrors
        .degraded,
    ).toBe(false);
    const down = with_({ mirrors: [open('https://a.example'), open('https://b.example/gentoo')] }).mirrors;
    expect(down).toMatchObject({
      degraded: true,
      cause: 'mirrors_down',
      details: { configured: 2, open: 2 },
    });
    expect(down.degraded && down.reason).toBe(
      "every mirror's circuit is open: a.example until 2026-05-01T12:00:30.000Z, b.example until 2026-05-01T12:00:30.000Z",
    );
    expect(with_({ mirrors: [] }).mirrors.degraded).toBe(false);
  });

  it('is disk_low below PORTCACHE_MIN_FREE (bytes or share), else below 5 % of the filesystem', () => {
    const disk = { freeBytes: 4 * GiB, sizeBytes: 100 * GiB };
    const byDefault = with_({ disk }).disk;
    expect(byDefault).toMatchObject({ degraded: true, cause: 'disk_low', details: { floorBytes: 5 * GiB } });
    expect(byDefault.degraded && byDefault.reason).toBe(
      '4.0 GiB free of 100.0 GiB, below the default floor (5 %)',
    );
    expect(with_({ disk: { freeBytes: 6 * GiB, sizeBytes: 100 * GiB } }).disk.degraded).toBe(false);
    const bytes = with_({ disk, minFree: { bytes: 3 * GiB } }).disk;
    expect(bytes.degraded).toBe(false);
    const moreBytes = with_({ disk, minFree: { bytes: 20 * GiB } }).disk;
    expect(moreBytes.degraded && moreBytes.reason).toBe(
      '4.0 GiB free of 100.0 GiB, below the PORTCACHE_MIN_FREE (20.0 GiB)',
    );
    expect(with_({ disk, minFree: { fraction: 0.1 } }).disk).toMatchObject({
      degraded: true,
      details: { floorBytes: 10 * GiB },
    });
    expect(with_({ disk: undefined, diskError: 'EIO' }).disk).toEqual({
      degraded: false,
      details: { unknown: 'EIO' },
    });
  });

  it('is index_stale while the index is not built or stale, with the reason the janitor uses', () => {
    const building = with_({
      index: { usable: false, why: 'the index is not built yet' },
      indexed: undefined,
    });
    expect(building).toMatchObject({
      index: {
        degraded: true,
        cause: 'index_stale',
        reason: 'the index is not built yet',
        details: { built: false, distfiles: 0, repositories: [] },
      },
    });
    const stale = with_({ index: { usable: false, why: 'the repositories were last read 900 s ago' } });
    expect(stale.index).toMatchObject({ degraded: true, details: { built: true, repositories: ['gentoo'] } });
  });

  it('is not index_stale without repositories when none were configured (a plain mirror cache)', () => {
    const none = { index: { usable: false, why: 'no repository is indexed' } as const };
    const empty = { distfiles: 0, repositories: [] };
    expect(with_({ ...none, indexed: empty, reposConfigured: false }).index).toMatchObject({
      degraded: false,
      details: { note: 'no repository configured or found' },
    });
    expect(with_({ ...none, indexed: empty, reposConfigured: true }).index).toMatchObject({
      degraded: true,
      reason: 'no repository is indexed',
    });
  });

  it('is sync_failing when a synced repository has gone two intervals without a successful sync', () => {
    const recent = { name: 'gentoo', lastSyncedAt: NOW - 1.5 * HOUR };
    expect(with_({ synced: [recent] }).sync.degraded).toBe(false);
    const late = with_({ synced: [recent, { name: 'guru', lastSyncedAt: NOW - 2.5 * HOUR }] }).sync;
    expect(late).toMatchObject({ degraded: true, cause: 'sync_failing' });
    expect(late.degraded && late.reason).toBe('guru last synced 9000 s ago');
    // Never synced: counted from the start, so a first clone may take its time.
    const never = { name: 'gentoo', lastSyncedAt: undefined };
    expect(with_({ synced: [never], startedAt: NOW - HOUR }).sync.degraded).toBe(false);
    const failing = with_({ synced: [never], startedAt: NOW - 3 * HOUR }).sync;
    expect(failing.degraded && failing.reason).toBe('gentoo not synced since the start 10800 s ago');
    expect(degradedCauses({ ...with_({}), sync: failing }).sync_failing).toBe(true);
  });
});
