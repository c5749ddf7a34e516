import type { StatsReport } from '../admin/stats.service.js';
import type { TrafficReport } from '../admin/traffic-stats.js';
import type { FillProgress } from '../fills/fill.service.js';
import { bar, duration, percent, size } from './format.js';

// `portcache status` for a person: readiness, traffic, cache usage, fills with progress bars.

/** What /health/ready answers (Terminus): each check with its status and details. */
export interface Readiness {
  status: string;
  details?: Record<string, { status: string; [key: string]: unknown }>;
}

export interface StatusInput {
  url: string;
  readiness: Readiness | undefined;
  /** The error message when the server gave none. */
  stats: StatsReport | string;
  fills: FillProgress[] | string;
}

export function formatStatus({ url, readiness, stats, fills }: StatusInput): string {
  const lines = [`portcache at ${url}: ${readiness?.status === 'ok' ? 'ready' : 'NOT READY'}`];
  for (const [check, detail] of Object.entries(readiness?.details ?? {}))
    lines.push(`  ${formatCheck(check, detail)}`);
  lines.push('');
  if (typeof stats === 'string') lines.push(`statistics unavailable: ${stats}`);
  else lines.push(...formatCache(stats), '', ...formatTraffic(stats), '', ...formatTop(stats));
  lines.push('');
  lines.push(...(typeof fills === 'string' ? [`fills unavailable: ${fills}`] : formatFills(fills)));
  return lines.join('\n');
}

function formatCheck(
  check: string,
  { status, ...detail }: { status: string; [key: string]: unknown },
): string {
  if (check === 'index' && 'built' in detail) {
    const repos = Array.isArray(detail.repositories) ? detail.repositories.join(', ') : '';
    return detail.built
      ? `index: ${status}, ${detail.distfiles} distfiles${repos ? ` from ${repos}` : ''}`
      : `index: ${status}, still being built`;
  }
  const rest = Object.entries(detail)
    .map(([key, value]) => `${key} ${detailValue(key, value)}`)
    .join(', ');
  return `${check}: ${status}${rest ? ` (${rest})` : ''}`;
}

/** Byte counts (`freeBytes`) as sizes; lists and objects as JSON. */
function detailValue(key: string, value: unknown): string {
  if (typeof value === 'number' && /Bytes$/.test(key)) return size(value);
  if (Array.isArray(value)) return value.length > 0 ? value.join(', ') : 'none';
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function formatCache({ cache }: StatsReport): string[] {
  const lines = [`Cache: ${cache.files} files, ${size(cache.bytes)}`];
  if (cache.limitBytes !== null) {
    lines.push(
      `  limit ${size(cache.limitBytes)} ${bar(cache.limitShare ?? 0)} ${percent(cache.limitShare)} used` +
        ` (evicts down to ${size(cache.lowWatermarkBytes ?? 0)})`,
    );
  }
  const fs = cache.filesystem;
  if (fs) {
    const floor = fs.minFreeBytes !== null ? `, keeps ${size(fs.minFreeBytes)} free` : '';
    lines.push(`  filesystem: ${size(fs.freeBytes)} free of ${size(fs.sizeBytes)}${floor}`);
  }
  if (cache.headroomBytes !== null)
    lines.push(`  room before the janitor removes files: ${size(cache.headroomBytes)}`);
  return lines;
}

function formatTraffic(stats: StatsReport): string[] {
  const columns: Array<[string, TrafficReport]> = [
    [`since start (${duration(stats.uptimeSeconds)})`, stats.sinceStart],
    ['last 24 h', stats.last24h],
  ];
  const rows: Array<[string, (r: TrafficReport) => string]> = [
    ['requests', (r) => String(r.requests)],
    ['  hits', (r) => String(r.byResult.hit)],
    ['  misses (fetched)', (r) => String(r.byResult.miss)],
    ['  joined a download', (r) => String(r.byResult.joined)],
    ['  not found', (r) => String(r.byResult.not_found)],
    ['  refused or failed', (r) => String(r.byResult.refused + r.byResult.error)],
    ['hit ratio', (r) => percent(r.hitRatio)],
    ['byte hit ratio', (r) => percent(r.byteHitRatio)],
    ['served from the cache', (r) => size(r.bytesBySource.cache)],
    ['served from downloads', (r) => size(r.bytesBySource.fill)],
    ['served by own ranges', (r) => size(r.bytesBySource.upstream)],
    ['saved upstream', (r) => size(r.bytesSavedUpstream)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const cell = Math.max(14, ...columns.map(([title]) => title.length)) + 2;
  const lines = [`${'Traffic'.padEnd(width)}${columns.map(([title]) => title.padStart(cell)).join('')}`];
  for (const [label, value] of rows) {
    lines.push(`${label.padEnd(width)}${columns.map(([, r]) => value(r).padStart(cell)).join('')}`);
  }
  return lines;
}

function formatTop({ topFiles24h }: StatsReport): string[] {
  if (topFiles24h.length === 0) return ['Top files (last 24 h): none requested'];
  return [
    'Top files (last 24 h):',
    ...topFiles24h.map(
      (f) => `  ${String(f.requests).padStart(7)} req ${size(f.bytes).padStart(11)}  ${f.name}`,
    ),
  ];
}

export function formatFills(fills: FillProgress[]): string[] {
  if (fills.length === 0) return ['Fills: none running'];
  const lines = [`Fills (${fills.length}):`];
  for (const f of fills) {
    const share = f.expectedSize ? f.written / f.expectedSize : undefined;
    const total = f.expectedSize !== null ? ` of ${size(f.expectedSize)}` : '';
    const clients = `${f.clients} client${f.clients === 1 ? '' : 's'}`;
    lines.push(`  ${f.name}`);
    if (f.status === 'waiting') {
      lines.push('    waiting for a download slot or a source to answer');
      continue;
    }
    lines.push(
      `    ${bar(share)} ${share === undefined ? '   ?' : percent(share).padStart(6)}  ${size(f.written)}${total}` +
        `  ${size(f.bytesPerSecond)}/s  ${clients}${f.status === 'ended' ? '  verifying' : ''}`,
      `    from ${f.source ?? 'no source yet'}`,
    );
  }
  return lines;
}
