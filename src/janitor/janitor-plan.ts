/**
 * The janitor's eviction plan (issue 9): which cached files go, in which order and why. Pure — the
 * scheduler gathers the snapshot (files, marks, statfs, index freshness, `now`) and carries the plan
 * out — so every policy is testable without a disk or a clock.
 */
import { EvictionQueue, formatBytes, formatFiles, formatShare, lruOrder } from './janitor-order.js';

export type EvictionReason = 'age' | 'unreferenced' | 'size' | 'free-space';
export const EVICTION_REASONS: readonly EvictionReason[] = ['age', 'unreferenced', 'size', 'free-space'];

export interface JanitorFile {
  readonly name: string;
  readonly size: number;
  /** Last request (ms since epoch); for a file never requested, when it was cached. */
  readonly lastAccessMs: number;
  /** Some Manifest of the indexed repositories names it. */
  readonly referenced: boolean;
  /** When it was first seen unreferenced (ms); undefined when referenced or not marked yet. */
  readonly unreferencedSinceMs?: number;
}

export interface JanitorLimits {
  readonly maxSizeBytes?: number;
  /** 0 < lowWatermark < 1: eviction for size goes down to lowWatermark × maxSizeBytes; for free space up to minFree / lowWatermark. */
  readonly lowWatermark: number;
  readonly minFree?: { readonly bytes: number } | { readonly fraction: number };
  readonly maxAgeMs?: number;
  /** undefined: the unreferenced policy is off. */
  readonly unreferencedGraceMs?: number;
  /** Share (0..1] of the cache's bytes one run may remove as unreferenced. */
  readonly unreferencedMaxShare: number;
}

export interface JanitorInput {
  readonly now: number;
  readonly files: readonly JanitorFile[];
  readonly limits: JanitorLimits;
  /** The cache's filesystem; undefined when statfs failed (the free-space policy is skipped, with a note). */
  readonly disk?: { readonly totalBytes: number; readonly freeBytes: number };
  /** The index is built from at least one repository and fresh; else `why` says what is wrong. */
  readonly index: { readonly usable: true } | { readonly usable: false; readonly why: string };
}

export interface Eviction {
  readonly name: string;
  readonly size: number;
  readonly reason: EvictionReason;
  readonly lastAccessMs: number;
}

export interface JanitorPlan {
  /** In the order to remove them. Each file at most once, with the first reason that takes it, in the order age, unreferenced, size, free-space. */
  readonly evictions: readonly Eviction[];
  readonly byReason: Readonly<Record<EvictionReason, { files: number; bytes: number }>>;
  readonly cacheFiles: number;
  readonly cacheBytes: number;
  /** Cache bytes once the plan is carried out. */
  readonly bytesAfter: number;
  /** The unreferenced cap stopped the policy this run (files left for the next run). */
  readonly unreferencedCapped: boolean;
  /** Human sentences for the log and the admin: a skipped policy and why, the cap hit (how many files/bytes left), a target that cannot be reached (e.g. free space still below the floor after evicting everything). */
  readonly notes: readonly string[];
}

/** The plan being built: which files are taken (by index, so membership is O(1)) and the running totals. */
class Draft {
  readonly taken: Uint8Array;
  readonly evictions: Eviction[] = [];
  readonly byReason: Record<EvictionReason, { files: number; bytes: number }> = {
    age: { files: 0, bytes: 0 },
    unreferenced: { files: 0, bytes: 0 },
    size: { files: 0, bytes: 0 },
    'free-space': { files: 0, bytes: 0 },
  };
  readonly notes: string[] = [];
  freed = 0;
  unreferencedCapped = false;

  constructor(readonly files: readonly JanitorFile[]) {
    this.taken = new Uint8Array(files.length);
  }

  take(i: number, reason: EvictionReason): void {
    const { name, size, lastAccessMs } = this.files[i];
    this.taken[i] = 1;
    this.evictions.push({ name, size, reason, lastAccessMs });
    this.byReason[reason].files++;
    this.byReason[reason].bytes += size;
    this.freed += size;
  }
}

export function planJanitor(input: JanitorInput): JanitorPlan {
  const { files, limits } = input;
  let cacheBytes = 0;
  for (const f of files) cacheBytes += f.size;
  const draft = new Draft(files);

  if (limits.maxAgeMs !== undefined) planAge(draft, input.now, limits.maxAgeMs);
  if (limits.unreferencedGraceMs !== undefined) {
    planUnreferenced(draft, input, limits.unreferencedGraceMs, cacheBytes);
  }
  // Size and free space share one ordering, sorted at most once; a wrong index must not steer it.
  const queue = new EvictionQueue(files, input.index.usable, draft.taken);
  if (limits.maxSizeBytes !== undefined) {
    planSize(draft, queue, cacheBytes, limits.maxSizeBytes, limits.lowWatermark);
  }
  if (limits.minFree !== undefined) planFreeSpace(draft, queue, input, limits.minFree);

  return {
    evictions: draft.evictions,
    byReason: draft.byReason,
    cacheFiles: files.length,
    cacheBytes,
    bytesAfter: cacheBytes - draft.freed,
    unreferencedCapped: draft.unreferencedCapped,
    notes: draft.notes,
  };
}

function planAge(draft: Draft, now: number, maxAgeMs: number): void {
  const old: number[] = [];
  draft.files.forEach((f, i) => {
    if (now - f.lastAccessMs > maxAgeMs) old.push(i);
  });
  for (const i of old.sort(lruOrder(draft.files))) draft.take(i, 'age');
}

/**
 * A wrong index (a repository missing, a stale sync) would call the whole cache unreferenced, hence the
 * usable-index gate, the grace on both the mark and the last request, and the per-run cap.
 *
 * The cap keeps the order strict: the first due file that does not fit the room left stops the policy, so
 * it goes first next run. A file bigger than the whole cap could never fit and would block the policy
 * forever: it is skipped (the policy goes on past it), it stays, and the plan says so as capped.
 */
function planUnreferenced(draft: Draft, input: JanitorInput, graceMs: number, cacheBytes: number): void {
  if (!input.index.usable) {
    draft.notes.push(`unreferenced policy skipped: ${input.index.why}`);
    return;
  }
  const { files, taken } = draft;
  const now = input.now;
  const due: number[] = [];
  files.forEach((f, i) => {
    const since = f.unreferencedSinceMs;
    if (taken[i] || f.referenced || since === undefined) return;
    if (now - since >= graceMs && now - f.lastAccessMs >= graceMs) due.push(i);
  });
  const lru = lruOrder(files);
  due.sort(
    (a, b) =>
      (files[a].unreferencedSinceMs as number) - (files[b].unreferencedSinceMs as number) || lru(a, b),
  );

  const share = input.limits.unreferencedMaxShare;
  const cap = share * cacheBytes;
  let used = 0;
  let k = 0;
  const tooBig: number[] = [];
  for (; k < due.length; k++) {
    const size = files[due[k]].size;
    if (size > cap) tooBig.push(due[k]);
    else if (used + size > cap) break;
    else {
      used += size;
      draft.take(due[k], 'unreferenced');
    }
  }
  let left = 0;
  let leftBytes = 0;
  for (; k < due.length; k++) {
    const size = files[due[k]].size;
    if (size > cap) tooBig.push(due[k]);
    else {
      left++;
      leftBytes += size;
    }
  }
  const capText = `${formatShare(share)} of the cache, ${formatBytes(cap)}`;
  if (left > 0) {
    draft.unreferencedCapped = true;
    draft.notes.push(
      `unreferenced policy capped at ${capText}: removing ${formatFiles(draft.byReason.unreferenced.files)} ` +
        `(${formatBytes(used)}), ${formatFiles(left)} (${formatBytes(leftBytes)}) left for the next run`,
    );
  }
  if (tooBig.length > 0) {
    draft.unreferencedCapped = true;
    const bytes = tooBig.reduce((sum, i) => sum + files[i].size, 0);
    draft.notes.push(
      `unreferenced policy capped at ${capText}: ${formatFiles(tooBig.length)} (${formatBytes(bytes)}) ` +
        `each bigger than the whole cap stay (first: ${files[tooBig[0]].name}); ` +
        'raise PORTCACHE_UNREFERENCED_MAX_SHARE to let the policy remove them',
    );
  }
}

function planSize(
  draft: Draft,
  queue: EvictionQueue,
  cacheBytes: number,
  maxSizeBytes: number,
  lowWatermark: number,
): void {
  let remaining = cacheBytes - draft.freed;
  if (remaining <= maxSizeBytes) return;
  // Always reachable: evicting everything leaves 0 bytes.
  const target = lowWatermark * maxSizeBytes;
  while (remaining > target) {
    const i = queue.next();
    if (i === undefined) break;
    draft.take(i, 'size');
    remaining -= draft.files[i].size;
  }
}

function planFreeSpace(
  draft: Draft,
  queue: EvictionQueue,
  input: JanitorInput,
  minFree: NonNullable<JanitorLimits['minFree']>,
): void {
  const disk = input.disk;
  if (disk === undefined) {
    draft.notes.push('free-space policy skipped: the cache filesystem could not be measured (statfs failed)');
    return;
  }
  const floor = 'bytes' in minFree ? minFree.bytes : minFree.fraction * disk.totalBytes;
  if (disk.freeBytes + draft.freed >= floor) return;
  // Evicting past the floor keeps the next runs from evicting a file or two each time.
  const target = Math.min(floor / input.limits.lowWatermark, disk.totalBytes);
  while (disk.freeBytes + draft.freed < target) {
    const i = queue.next();
    if (i === undefined) break;
    draft.take(i, 'free-space');
  }
  const free = disk.freeBytes + draft.freed;
  if (free >= target) return;
  draft.notes.push(
    free < floor
      ? `free-space target unreachable: after evicting every cached file ${formatBytes(free)} would be free, ` +
          `still below the floor of ${formatBytes(floor)}`
      : `free-space target unreachable: after evicting every cached file ${formatBytes(free)} would be free, ` +
          `above the floor of ${formatBytes(floor)} but short of the target of ${formatBytes(target)}`,
  );
}
