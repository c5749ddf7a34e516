import type { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { formatAgo, formatBytes, formatCount, formatMs, formatRate } from './view-format.js';

/** One mirror or SRC_URI host as GET /api/v1/mirrors and /api/v1/hosts describe it. */
export type SourceSnapshot = ReturnType<MirrorBalancer['snapshot']>[number];

/** 'ok' healthy, 'idle' not asked yet, 'warn' probing after its circuit was open, 'bad' failing. */
export type Tone = 'ok' | 'idle' | 'warn' | 'bad';

export interface SourceRow {
  key: string;
  name: string;
  state: Tone;
  stateText: string;
  score: string;
  ttfb: string;
  throughput: string;
  active: string;
  traffic: string;
  problem: string;
}

/** SRC_URI hosts shown; the balancer remembers up to 2000, the most recent first. */
export const HOSTS_SHOWN = 20;

function circuitText(source: SourceSnapshot, now: number): { state: Tone; text: string } {
  if (source.circuit === 'open') {
    const until = source.openUntil ? Date.parse(source.openUntil) : now;
    return { state: 'bad', text: `failing: skipped, retried ${formatAgo(until, now)}` };
  }
  if (source.circuit === 'half-open') return { state: 'warn', text: 'failing: being retried' };
  if (source.consecutiveFailures > 0) {
    const times = source.consecutiveFailures === 1 ? 'once' : `${source.consecutiveFailures} times in a row`;
    return { state: 'bad', text: `failing (failed ${times})` };
  }
  if (source.requests === 0) return { state: 'idle', text: 'not asked yet' };
  return { state: 'ok', text: 'healthy' };
}

export function sourceRow(source: SourceSnapshot, now: number, name = source.url): SourceRow {
  const { state, text } = circuitText(source, now);
  const failed = source.failures > 0 ? `, ${formatCount(source.failures)} failed` : '';
  const problems: string[] = [];
  if (source.lastBadFile) {
    problems.push(
      `sent wrong bytes for ${source.lastBadFile.name} ${formatAgo(Date.parse(source.lastBadFile.at), now)}` +
        (source.badFiles > 1 ? ` (${formatCount(source.badFiles)} files in all)` : ''),
    );
  }
  if (source.failures > 0) {
    problems.push(`${formatCount(source.failures)} of ${formatCount(source.requests)} requests failed`);
  }
  if (source.lastError) {
    problems.push(
      `last error ${formatAgo(Date.parse(source.lastError.at), now)}: ${source.lastError.reason}`,
    );
  }
  return {
    key: source.url,
    name,
    state,
    stateText: text,
    score: source.score === null ? '—' : formatMs(source.score),
    ttfb: formatMs(source.ttfbMs),
    throughput: formatRate(source.bytesPerSecond),
    active: `${source.active} of ${source.limit}`,
    traffic: `${formatCount(source.requests)} req${failed}, ${formatBytes(source.bytes)}`,
    problem: problems.join('; ') || '—',
  };
}

/** The configured mirrors, best first; SRC_URI hosts, the most recently asked first and bounded. */
export function sourcesView(
  mirrors: readonly SourceSnapshot[],
  hosts: readonly SourceSnapshot[],
  now: number,
) {
  const hostRows = hosts.slice(0, HOSTS_SHOWN).map((host) => sourceRow(host, now, hostName(host.url)));
  return {
    mirrors: { rows: mirrors.map((mirror) => sourceRow(mirror, now)), empty: mirrors.length === 0 },
    hosts: {
      rows: hostRows,
      empty: hosts.length === 0,
      more: hosts.length > HOSTS_SHOWN ? `${formatCount(hosts.length - HOSTS_SHOWN)} more not shown` : '',
      failing: hostRows.filter((row) => row.state === 'bad').length,
    },
  };
}

function hostName(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
