/**
 * States that do not stop hits from being served, and so never take an instance out of a
 * Service: every mirror's circuit open, free space below the floor, the index not built or
 * stale, a repository sync failing. Pure — the status service gathers the inputs — so each rule
 * is testable without mirrors, disks or clocks.
 */
import type { SizeOrShare } from '../config/units.js';
import { formatBytes, formatShare } from '../janitor/janitor-order.js';
import type { IndexHealth } from '../repository/repository-scheduler.service.js';

export const DEGRADED_CAUSES = ['mirrors_down', 'disk_low', 'index_stale', 'sync_failing'] as const;
export type DegradedCause = (typeof DEGRADED_CAUSES)[number];

/** The free-space floor of the probe when PORTCACHE_MIN_FREE is unset (the janitor then keeps none). */
export const DEFAULT_FREE_FLOOR = 0.05;

/** One area's finding: its facts, and the cause with a reason when it is degraded. */
export type Finding =
  | { readonly degraded: false; readonly details: Record<string, unknown> }
  | {
      readonly degraded: true;
      readonly cause: DegradedCause;
      readonly reason: string;
      readonly details: Record<string, unknown>;
    };

export interface DegradationInput {
  readonly now: number;
  /** The configured mirrors (not SRC_URI hosts). */
  readonly mirrors: readonly {
    readonly url: string;
    readonly circuit: string;
    readonly openUntil: string | null;
  }[];
  /** The cache's filesystem; undefined when it could not be measured. */
  readonly disk: { readonly freeBytes: number; readonly sizeBytes: number } | undefined;
  readonly diskError?: string;
  /** PORTCACHE_MIN_FREE. */
  readonly minFree: SizeOrShare | undefined;
  readonly index: IndexHealth;
  /** What the built index holds (undefined: not built). */
  readonly indexed: { readonly distfiles: number; readonly repositories: readonly string[] } | undefined;
  /** PORTCACHE_REPOS or PORTCACHE_SYNC_REPOS is set: an index without repositories is then a fault. */
  readonly reposConfigured: boolean;
  /** PORTCACHE_SYNC_REPOS, with their last successful sync (ms; undefined: none yet). */
  readonly synced: readonly { readonly name: string; readonly lastSyncedAt: number | undefined }[];
  readonly syncIntervalMs: number;
  /** When this process started syncing (a repository never synced counts from there). */
  readonly startedAt: number;
}

export interface Degradation {
  readonly mirrors: Finding;
  readonly disk: Finding;
  readonly index: Finding;
  readonly sync: Finding;
}

export function assessDegradation(input: DegradationInput): Degradation {
  return {
    mirrors: mirrors(input),
    disk: disk(input),
    index: index(input),
    sync: sync(input),
  };
}

/** The causes that apply, each named once. */
export function degradedCauses(degradation: Degradation): Record<DegradedCause, boolean> {
  const on = new Set<string>();
  for (const finding of Object.values(degradation)) if (finding.degraded) on.add(finding.cause);
  return Object.fromEntries(DEGRADED_CAUSES.map((cause) => [cause, on.has(cause)])) as Record<
    DegradedCause,
    boolean
  >;
}

/** Every configured mirror's circuit open: misses can only go to SRC_URIs. Half-open counts as usable (a probe may go). */
function mirrors({ mirrors }: DegradationInput): Finding {
  const open = mirrors.filter((m) => m.circuit === 'open');
  const details = { configured: mirrors.length, open: open.length };
  if (mirrors.length === 0 || open.length < mirrors.length) return { degraded: false, details };
  const which = open.map((m) => `${hostOf(m.url)}${m.openUntil ? ` until ${m.openUntil}` : ''}`);
  return {
    degraded: true,
    cause: 'mirrors_down',
    reason: `every mirror's circuit is open: ${which.join(', ')}`,
    details,
  };
}

/** Free space below the janitor's floor (PORTCACHE_MIN_FREE), or below DEFAULT_FREE_FLOOR without one. */
function disk({ disk, diskError, minFree }: DegradationInput): Finding {
  if (!disk) return { degraded: false, details: { unknown: diskError ?? 'statfs failed' } };
  const share = minFree && 'fraction' in minFree ? minFree.fraction : DEFAULT_FREE_FLOOR;
  const floorBytes = minFree && 'bytes' in minFree ? minFree.bytes : Math.round(share * disk.sizeBytes);
  const floor = minFree ? 'PORTCACHE_MIN_FREE' : 'default floor';
  const details = { freeBytes: disk.freeBytes, sizeBytes: disk.sizeBytes, floorBytes };
  if (disk.freeBytes >= floorBytes) return { degraded: false, details };
  const what = minFree && 'bytes' in minFree ? formatBytes(floorBytes) : formatShare(share);
  return {
    degraded: true,
    cause: 'disk_low',
    reason: `${formatBytes(disk.freeBytes)} free of ${formatBytes(disk.sizeBytes)}, below the ${floor} (${what})`,
    details,
  };
}

/**
 * The index not built, not read recently, or missing a synced repository (as the janitor judges
 * it). An index without any repository is a fault only when repositories were configured: with
 * neither PORTCACHE_REPOS nor PORTCACHE_SYNC_REPOS and none found where Portage keeps them,
 * portcache runs as a plain mirror cache by choice, and saying so forever would only train
 * people to ignore the alert.
 */
function index({ index, indexed, reposConfigured }: DegradationInput): Finding {
  const details = {
    built: indexed !== undefined,
    distfiles: indexed?.distfiles ?? 0,
    repositories: indexed?.repositories ?? [],
  };
  if (index.usable) return { degraded: false, details };
  if (indexed && indexed.repositories.length === 0 && !reposConfigured)
    return { degraded: false, details: { ...details, note: 'no repository configured or found' } };
  return { degraded: true, cause: 'index_stale', reason: index.why, details };
}

/** A synced repository without a successful sync for two intervals (one failure is tolerated). */
function sync({ synced, syncIntervalMs, startedAt, now }: DegradationInput): Finding {
  const details = {
    repositories: synced.map((repo) => ({
      name: repo.name,
      lastSynced: repo.lastSyncedAt === undefined ? null : new Date(repo.lastSyncedAt).toISOString(),
    })),
  };
  const late = synced.filter((repo) => now - (repo.lastSyncedAt ?? startedAt) > 2 * syncIntervalMs);
  if (late.length === 0) return { degraded: false, details };
  const which = late.map((repo) =>
    repo.lastSyncedAt === undefined
      ? `${repo.name} not synced since the start ${seconds(now - startedAt)} ago`
      : `${repo.name} last synced ${seconds(now - repo.lastSyncedAt)} ago`,
  );
  return { degraded: true, cause: 'sync_failing', reason: which.join('; '), details };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
