import type { IndexHealth } from '../repository/repository-scheduler.service.js';
import type { EvictionReason, JanitorPlan } from './janitor-plan.js';

/** Evictions listed in a report (the admin API, the CLI); the counts cover all of them. */
const LISTED = 1000;

/** A janitor run (or dry run) as the admin API returns it and the log line summarises it. */
export interface JanitorReport {
  readonly dryRun: boolean;
  readonly at: string;
  readonly durationMs: number;
  readonly index: IndexHealth;
  readonly cache: { readonly files: number; readonly bytes: number; readonly bytesAfter: number };
  readonly byReason: Readonly<Record<EvictionReason, { files: number; bytes: number }>>;
  /** The first LISTED evictions, in the order of removal. */
  readonly evictions: ReadonlyArray<{
    name: string;
    size: number;
    reason: EvictionReason;
    lastAccess: string;
  }>;
  readonly evictionsNotListed: number;
  readonly unreferencedCapped: boolean;
  readonly notes: readonly string[];
  /** A run that was carried out: what it removed, and files it left because they were being written. */
  readonly removed?: { readonly files: number; readonly bytes: number; readonly busy: number };
  readonly leftovers?: { readonly files: number; readonly bytes: number };
  /** Expired quarantined files deleted. */
  readonly quarantine?: number;
}

export function describeRun(
  plan: JanitorPlan,
  run: {
    dryRun: boolean;
    index: IndexHealth;
    started: number;
    removed?: JanitorReport['removed'];
    leftovers?: JanitorReport['leftovers'];
    quarantine?: number;
  },
): JanitorReport {
  return {
    dryRun: run.dryRun,
    at: new Date().toISOString(),
    durationMs: Math.round(performance.now() - run.started),
    index: run.index,
    cache: { files: plan.cacheFiles, bytes: plan.cacheBytes, bytesAfter: plan.bytesAfter },
    byReason: plan.byReason,
    evictions: plan.evictions.slice(0, LISTED).map((e) => ({
      name: e.name,
      size: e.size,
      reason: e.reason,
      lastAccess: new Date(e.lastAccessMs).toISOString(),
    })),
    evictionsNotListed: Math.max(0, plan.evictions.length - LISTED),
    unreferencedCapped: plan.unreferencedCapped,
    notes: plan.notes,
    removed: run.removed,
    leftovers: run.leftovers,
    quarantine: run.quarantine,
  };
}
