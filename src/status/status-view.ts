import type { CacheUsage } from '../admin/cache-usage.js';
import type { StatsReport } from '../admin/stats.service.js';
import type { FillProgress } from '../fills/fill.service.js';
import type { JanitorReport } from '../janitor/janitor-report.js';
import type { IndexHealth } from '../repository/repository-scheduler.service.js';
import { type SourceSnapshot, sourcesView, type Tone } from './source-view.js';
import { type TrafficBucket, totalOf } from './traffic-history.js';
import {
  formatAgo,
  formatBytes,
  formatCount,
  formatDuration,
  formatMs,
  formatRate,
  formatShare,
  fraction,
} from './view-format.js';

// The status page's figures, formatted: what the page shows at load and what it polls
// (GET /api/v1/status). Pure: the inputs are the same objects the admin API answers with.

/** A download that ended recently, as the page last saw it. */
export interface FinishedFill {
  name: string;
  at: number;
  /** Its size when cached; undefined when it is not in the cache (failed, or removed since). */
  cachedBytes: number | undefined;
}

export interface StatusInputs {
  now: number;
  startedAt: number;
  /** /health/ready's verdict; undefined when it could not be had. */
  health: { ready: boolean; problems: string[]; degraded: string[] } | undefined;
  fills: readonly FillProgress[];
  finished: readonly FinishedFill[];
  mirrors: readonly SourceSnapshot[];
  hosts: readonly SourceSnapshot[];
  stats: StatsReport | undefined;
  /** 60 minutes, oldest first. */
  lastHour: readonly TrafficBucket[];
  /** 48 half hours, oldest first. */
  lastDay: readonly TrafficBucket[];
  index: {
    health: IndexHealth;
    distfiles: number | undefined;
    repositories: readonly { name: string; location: string }[];
    synced: readonly { name: string; url: string; lastSyncedAt: number | undefined }[];
    lastReadAt: number;
  };
  janitor: JanitorReport | undefined;
}

const FILL_STATES: Record<FillProgress['status'], { state: Tone; text: string }> = {
  waiting: { state: 'idle', text: 'waiting' },
  filling: { state: 'warn', text: 'downloading' },
  ended: { state: 'warn', text: 'verifying' },
  committed: { state: 'ok', text: 'cached' },
  failed: { state: 'bad', text: 'failed' },
};

function fillRow(fill: FillProgress) {
  const total = fill.expectedSize;
  const left =
    total !== null && fill.bytesPerSecond > 0 ? (total - fill.written) / fill.bytesPerSecond : null;
  const { state, text } = FILL_STATES[fill.status];
  return {
    key: fill.name,
    name: fill.name,
    state,
    stateText: text,
    bar: total ? fraction(fill.written, total) : 0,
    progress:
      total !== null
        ? `${formatBytes(fill.written)} of ${formatBytes(total)} (${formatShare(fraction(fill.written, total))})`
        : formatBytes(fill.written),
    rate: fill.status === 'filling' ? formatRate(fill.bytesPerSecond) : '—',
    eta: left !== null && fill.status === 'filling' ? `${formatDuration(left * 1000)} left` : '',
    source: fill.source === 'import' ? 'upload' : (fill.source ?? '—'),
    clients: formatCount(fill.clients),
  };
}

function finishedRow(fill: FinishedFill, now: number) {
  const cached = fill.cachedBytes !== undefined;
  return {
    key: fill.name,
    name: fill.name,
    state: (cached ? 'ok' : 'bad') as Tone,
    stateText: cached ? 'cached' : 'failed',
    bar: cached ? 1 : 0,
    progress: cached ? formatBytes(fill.cachedBytes ?? 0) : 'not cached',
    rate: '—',
    eta: `ended ${formatAgo(fill.at, now)}`,
    source: '—',
    clients: '—',
  };
}

function period(label: string, t: ReturnType<typeof totalOf> | undefined, hitRatio: number | null) {
  return {
    key: label,
    label,
    requests: t ? formatCount(t.requests) : '—',
    hitRatio: formatShare(hitRatio),
    cache: t ? formatBytes(t.cacheBytes) : '—',
    fill: t ? formatBytes(t.fillBytes) : '—',
    upstream: t ? formatBytes(t.upstreamBytes) : '—',
    saved: t ? formatBytes(t.savedBytes) : '—',
  };
}

/** StatsService's report of a period in the history's terms. */
function fromStats(r: StatsReport['last24h']) {
  return {
    cacheBytes: r.bytesBySource.cache,
    fillBytes: r.bytesBySource.fill,
    upstreamBytes: r.bytesBySource.upstream,
    savedBytes: r.bytesSavedUpstream,
    hits: r.byResult.hit,
    fileRequests: r.byResult.hit + r.byResult.miss + r.byResult.joined,
    requests: r.requests,
  };
}

/** Stacked bars (cache, fill, upstream) scaled to the busiest bucket. */
export function chartView(buckets: readonly TrafficBucket[], now: number, per: string) {
  const totals = buckets.map((b) => b.cacheBytes + b.fillBytes + b.upstreamBytes);
  const max = Math.max(0, ...totals);
  return {
    bars: buckets.map((b, i) => ({
      key: String(b.start),
      cache: fraction(b.cacheBytes, max),
      fill: fraction(b.fillBytes, max),
      upstream: fraction(b.upstreamBytes, max),
      title:
        `${i === buckets.length - 1 ? 'now' : `from ${formatAgo(b.start, now)}`}: ` +
        `${formatBytes(b.cacheBytes)} from the cache, ${formatBytes(b.fillBytes)} from downloads, ` +
        `${formatBytes(b.upstreamBytes)} direct from upstream; ${formatCount(b.requests)} requests`,
    })),
    scale: max > 0 ? `busiest: ${formatBytes(max)} ${per}` : 'no traffic yet',
  };
}

function cacheView(cache: CacheUsage | undefined) {
  if (!cache) {
    const none = { known: false, files: '—', bytes: '—', bar: 0, mark: 0, hasMark: false };
    return { ...none, barText: 'not known', disk: '—', headroom: '—' };
  }
  const fs = cache.filesystem;
  const whole = cache.limitBytes ?? fs?.sizeBytes ?? null;
  return {
    known: true,
    files: formatCount(cache.files),
    bytes: formatBytes(cache.bytes),
    bar: fraction(cache.bytes, whole),
    mark: cache.lowWatermarkBytes !== null ? fraction(cache.lowWatermarkBytes, whole) : 0,
    hasMark: cache.lowWatermarkBytes !== null,
    barText:
      cache.limitBytes !== null
        ? `${formatBytes(cache.bytes)} of ${formatBytes(cache.limitBytes)} (${formatShare(cache.limitShare)}); ` +
          `past the limit the janitor removes files down to ${formatBytes(cache.lowWatermarkBytes ?? 0)}`
        : fs
          ? `${formatBytes(cache.bytes)} on a filesystem of ${formatBytes(fs.sizeBytes)}; no size limit set`
          : `${formatBytes(cache.bytes)}; no size limit set`,
    disk: fs
      ? `${formatBytes(fs.freeBytes)} free of ${formatBytes(fs.sizeBytes)}` +
        (fs.minFreeBytes !== null ? `, kept free: ${formatBytes(fs.minFreeBytes)}` : '')
      : 'not measured (statfs failed)',
    headroom:
      cache.headroomBytes === null
        ? 'no limit set: the janitor only removes old and unreferenced files'
        : `${formatBytes(cache.headroomBytes)} until the janitor removes files to make room`,
  };
}

function janitorView(report: JanitorReport | undefined, now: number) {
  if (!report) return { ran: false, text: 'not yet: no run since portcache started', detail: '' };
  const reasons = Object.entries(report.byReason)
    .filter(([, c]) => c.files > 0)
    .map(([reason, c]) => `${reason} ${formatCount(c.files)} (${formatBytes(c.bytes)})`);
  const removed = report.removed ?? { files: 0, bytes: 0, busy: 0 };
  return {
    ran: true,
    text:
      `${formatAgo(Date.parse(report.at), now)}, in ${formatMs(report.durationMs)}: removed ` +
      `${formatCount(removed.files)} files (${formatBytes(removed.bytes)})`,
    detail: [
      reasons.length > 0 ? `by reason: ${reasons.join(', ')}` : 'nothing was due',
      ...report.notes,
    ].join('; '),
  };
}

function indexView(index: StatusInputs['index'], now: number) {
  const synced = new Map(index.synced.map((s) => [s.name, s]));
  return {
    state: (index.health.usable ? 'ok' : 'warn') as Tone,
    text: index.health.usable ? 'up to date' : index.health.why,
    distfiles: index.distfiles === undefined ? 'not built yet' : formatCount(index.distfiles),
    lastRead: index.lastReadAt > 0 ? formatAgo(index.lastReadAt, now) : 'not yet',
    rows: index.repositories.map((repo) => {
      const sync = synced.get(repo.name);
      return {
        key: repo.name,
        name: repo.name,
        location: repo.location,
        synced: sync
          ? sync.lastSyncedAt !== undefined
            ? `synced ${formatAgo(sync.lastSyncedAt, now)}`
            : 'not synced yet'
          : 'local: read from disk',
        origin: sync?.url ?? '',
      };
    }),
    empty: index.repositories.length === 0,
  };
}

function healthView(health: StatusInputs['health']) {
  if (!health) return { state: 'warn' as Tone, text: 'unknown', detail: 'the checks could not be run' };
  if (!health.ready) return { state: 'bad' as Tone, text: 'not ready', detail: health.problems.join('; ') };
  if (health.degraded.length > 0)
    return { state: 'warn' as Tone, text: 'degraded', detail: health.degraded.join('; ') };
  return { state: 'ok' as Tone, text: 'ready', detail: 'serving; nothing degraded' };
}

export function statusView(input: StatusInputs) {
  const { now, stats } = input;
  const hour = totalOf(input.lastHour);
  const day = stats ? fromStats(stats.last24h) : totalOf(input.lastDay);
  const hourRatio = hour.fileRequests > 0 ? hour.hits / hour.fileRequests : null;
  const dayRatio = day.fileRequests > 0 ? day.hits / day.fileRequests : null;
  const running = input.fills.map(fillRow);
  const active = new Set(input.fills.map((f) => f.name));
  const finished = input.finished.filter((f) => !active.has(f.name)).map((f) => finishedRow(f, now));
  const cache = cacheView(stats?.cache);
  return {
    health: healthView(input.health),
    uptime: `up ${formatDuration(now - input.startedAt)}`,
    kpi: {
      hitHour: formatShare(hourRatio),
      hitDay: formatShare(dayRatio),
      servedDay: formatBytes(day.cacheBytes + day.fillBytes + day.upstreamBytes),
      savedDay: formatBytes(day.savedBytes),
      cacheBytes: cache.bytes,
      cacheFiles: `${cache.files} files`,
      fills: formatCount(input.fills.length),
      fillsNote: `${formatCount(input.fills.filter((f) => f.status === 'waiting').length)} waiting`,
    },
    fills: {
      rows: [...running, ...finished],
      empty: running.length === 0 && finished.length === 0,
      summary: `${formatCount(running.length)} running, ${formatCount(finished.length)} ended recently`,
    },
    traffic: {
      periods: [
        period('last hour', hour, hourRatio),
        period('last 24 h', day, dayRatio),
        period(
          'since start',
          stats ? fromStats(stats.sinceStart) : undefined,
          stats?.sinceStart.hitRatio ?? null,
        ),
      ],
      hourChart: chartView(input.lastHour, now, 'in a minute'),
      dayChart: chartView(input.lastDay, now, 'in half an hour'),
    },
    cache,
    janitor: janitorView(input.janitor, now),
    ...sourcesView(input.mirrors, input.hosts, now),
    index: indexView(input.index, now),
    topFiles: {
      rows: (stats?.topFiles24h ?? []).map((f) => ({
        key: f.name,
        name: f.name,
        requests: formatCount(f.requests),
        bytes: formatBytes(f.bytes),
      })),
      empty: (stats?.topFiles24h.length ?? 0) === 0,
    },
  };
}

export type StatusView = ReturnType<typeof statusView>;
