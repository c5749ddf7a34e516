import { describe, expect, it } from 'vitest';
import { cacheUsage } from './cache-usage.js';

const GiB = 1024 ** 3;

describe('cacheUsage', () => {
  it('without limits: totals and the filesystem, no headroom', () => {
    expect(
      cacheUsage({
        files: 3,
        bytes: 5 * GiB,
        maxSizeBytes: undefined,
        lowWatermark: 0.9,
        minFree: undefined,
        disk: { totalBytes: 100 * GiB, freeBytes: 40 * GiB },
      }),
    ).toEqual({
      files: 3,
      bytes: 5 * GiB,
      limitBytes: null,
      limitShare: null,
      lowWatermarkBytes: null,
      filesystem: { sizeBytes: 100 * GiB, freeBytes: 40 * GiB, minFreeBytes: null },
      headroomBytes: null,
    });
  });

  it('headroom is the nearer of the size limit and the free-space floor (a share of the filesystem)', () => {
    const usage = cacheUsage({
      files: 1,
      bytes: 30 * GiB,
      maxSizeBytes: 50 * GiB,
      lowWatermark: 0.9,
      minFree: { fraction: 0.1 },
      disk: { totalBytes: 100 * GiB, freeBytes: 25 * GiB },
    });
    expect(usage.limitShare).toBeCloseTo(0.6);
    expect(usage.lowWatermarkBytes).toBe(45 * GiB);
    expect(usage.filesystem?.minFreeBytes).toBe(10 * GiB);
    expect(usage.headroomBytes).toBe(15 * GiB);
  });

  it('headroom is 0 past a limit; a floor in bytes needs no statfs to be known but room does', () => {
    expect(
      cacheUsage({
        files: 1,
        bytes: 60 * GiB,
        maxSizeBytes: 50 * GiB,
        lowWatermark: 0.9,
        minFree: { bytes: GiB },
        disk: undefined,
      }),
    ).toMatchObject({ headroomBytes: 0, filesystem: null });
  });
});
