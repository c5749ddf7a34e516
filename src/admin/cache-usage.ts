import type { SizeOrShare } from '../config/units.js';

// How full the cache is, against the janitor's limits: pure, from the store's totals, the
// configuration and one statfs of the cache directory.

export interface CacheUsageInput {
  files: number;
  bytes: number;
  maxSizeBytes: number | undefined;
  /** Eviction stops at this share of a limit. */
  lowWatermark: number;
  minFree: SizeOrShare | undefined;
  /** The cache's filesystem; undefined when statfs failed. */
  disk: { totalBytes: number; freeBytes: number } | undefined;
}

export interface CacheUsage {
  files: number;
  bytes: number;
  /** PORTCACHE_MAX_SIZE, null when unset. */
  limitBytes: number | null;
  /** bytes / limitBytes. */
  limitShare: number | null;
  /** Past the limit, the janitor removes files down to this (PORTCACHE_LOW_WATERMARK of it). */
  lowWatermarkBytes: number | null;
  filesystem: {
    sizeBytes: number;
    freeBytes: number;
    /** PORTCACHE_MIN_FREE in bytes, null when unset. */
    minFreeBytes: number | null;
  } | null;
  /**
   * How much more the cache may grow before the janitor starts removing files (the nearer of the
   * size limit and the free-space floor; 0 past one); null when neither is set.
   */
  headroomBytes: number | null;
}

export function cacheUsage(input: CacheUsageInput): CacheUsage {
  const { files, bytes, maxSizeBytes, minFree, disk } = input;
  const minFreeBytes =
    minFree && disk
      ? 'bytes' in minFree
        ? minFree.bytes
        : Math.round(minFree.fraction * disk.totalBytes)
      : null;
  const rooms: number[] = [];
  if (maxSizeBytes !== undefined) rooms.push(maxSizeBytes - bytes);
  if (minFreeBytes !== null && disk) rooms.push(disk.freeBytes - minFreeBytes);
  return {
    files,
    bytes,
    limitBytes: maxSizeBytes ?? null,
    limitShare: maxSizeBytes ? bytes / maxSizeBytes : null,
    lowWatermarkBytes: maxSizeBytes !== undefined ? Math.round(maxSizeBytes * input.lowWatermark) : null,
    filesystem: disk ? { sizeBytes: disk.totalBytes, freeBytes: disk.freeBytes, minFreeBytes } : null,
    headroomBytes: rooms.length > 0 ? Math.max(0, Math.min(...rooms)) : null,
  };
}
