import { createHash } from 'node:crypto';
import type { ExplainView } from './explain-view.js';
import { attrs, bar, esc, list, segment, stateAttrs, table, text, visibility } from './page-html.js';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';
import type { StatusView } from './status-view.js';

// The status page, whole, from the view model: it reads right without JavaScript (the figures
// at load time), and the script keeps it current from GET /api/v1/status.

type Row = { key: string } & Record<string, string | number | boolean>;
type Scope = StatusView | ExplainView | Row | undefined;

/** Where the page polls, and how the search box asks. */
export const STATUS_API = '/api/v1/status';

/**
 * No external anything, and only this page's own script runs: an injected <script> would not
 * (defence in depth; every value is escaped anyway). Inline styles are the bars' widths.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const badge = (s: Scope, state: string, label: string, cls = 'badge') =>
  `<span${attrs({ class: cls, ...stateAttrs(s, state) })}>${text(s, label, 'span')}</span>`;

function kpi(v: StatusView, label: string, path: string, note: string | { path: string }): string {
  const sub = typeof note === 'string' ? `<small>${esc(note)}</small>` : text(v, note.path, 'small');
  return `<div class="kpi"><span class="label">${esc(label)}</span>${text(v, path, 'strong')}${sub}</div>`;
}

function section(id: string, title: string, body: string, aside = ''): string {
  return `<section class="card" id="${id}"><h2>${esc(title)}${aside ? ` <span class="aside">${aside}</span>` : ''}</h2>${body}</section>`;
}

function empty(v: Scope, path: string, message: string): string {
  return `<p${attrs({ class: 'empty', ...visibility(v, 'show', path) })}>${esc(message)}</p>`;
}

function fillsSection(v: StatusView): string {
  const rows = table<Row>(
    v,
    'fills.rows',
    ['File', 'Progress', 'Rate', 'Source', 'Clients', 'State'],
    (r) => [
      text(r, 'name', 'span', { class: 'name' }),
      `${bar(r, 'bar', 'progress')}<span class="sub">${text(r, 'progress')} ${text(r, 'eta', 'span', { class: 'muted' })}</span>`,
      text(r, 'rate', 'span', { class: 'num' }),
      text(r, 'source', 'span', { class: 'url' }),
      text(r, 'clients', 'span', { class: 'num' }),
      badge(r, 'state', 'stateText'),
    ],
    (r) => ({ class: 'fill', ...stateAttrs(r, 'state') }),
  );
  return section(
    'fills',
    'Downloads',
    `${empty(v, 'fills.empty', 'No download running or ended recently.')}${rows}`,
    text(v, 'fills.summary'),
  );
}

function chart(v: StatusView, path: 'hourChart' | 'dayChart', title: string, from: string): string {
  const bars = list<Row>(
    v,
    `traffic.${path}.bars`,
    'div',
    { class: 'chart', role: 'img', 'aria-label': title },
    (b, key) =>
      `<div${attrs({ class: 'col', title: String(b?.title ?? ''), 'data-t': 'title', ...key })}>` +
      `${segment(b, 'upstream', 'upstream')}${segment(b, 'fill', 'fill')}${segment(b, 'cache', 'cache')}</div>`,
  );
  return (
    `<figure><figcaption>${esc(title)} ${text(v, `traffic.${path}.scale`, 'span', { class: 'muted' })}</figcaption>` +
    `${bars}<div class="axis"><span>${esc(from)}</span><span>now</span></div></figure>`
  );
}

function trafficSection(v: StatusView): string {
  const periods = table<Row>(
    v,
    'traffic.periods',
    ['Period', 'Requests', 'Hit ratio', 'From cache', 'From downloads', 'Direct upstream', 'Saved upstream'],
    (r) =>
      ['label', 'requests', 'hitRatio', 'cache', 'fill', 'upstream', 'saved'].map((k) =>
        text(r, k, 'span', { class: k === 'label' ? '' : 'num' }),
      ),
  );
  const legend =
    '<p class="legend"><i class="cache"></i>from the cache <i class="fill"></i>from downloads ' +
    '<i class="upstream"></i>direct from upstream (far-ahead ranges)</p>';
  return section(
    'traffic',
    'Traffic',
    `<div class="charts">${chart(v, 'hourChart', 'Last hour, per minute', '60 min ago')}${chart(v, 'dayChart', 'Last 24 h, per half hour', '24 h ago')}</div>${legend}${periods}`,
  );
}

function cacheSection(v: StatusView): string {
  const facts = [
    ['Files', text(v, 'cache.files')],
    ['Size', text(v, 'cache.bytes')],
    ['Filesystem', text(v, 'cache.disk')],
    ['Headroom', text(v, 'cache.headroom')],
    [
      'Last janitor run',
      `${text(v, 'janitor.text')}<br>${text(v, 'janitor.detail', 'small', { class: 'muted' })}`,
    ],
  ];
  return section(
    'cache',
    'Cache',
    `${bar(v, 'cache.bar', 'usage', { at: 'cache.mark', shown: 'cache.hasMark' })}<p class="sub">${text(v, 'cache.barText')}</p>${dl(facts)}`,
  );
}

function dl(facts: string[][]): string {
  return `<dl class="facts">${facts.map(([k, val]) => `<dt>${esc(k)}</dt><dd>${val}</dd>`).join('')}</dl>`;
}

function indexSection(v: StatusView): string {
  const repos = table<Row>(v, 'index.rows', ['Repository', 'Location', 'Sync'], (r) => [
    text(r, 'name', 'span', { class: 'name' }),
    text(r, 'location', 'span', { class: 'url' }),
    `${text(r, 'synced')} ${text(r, 'origin', 'small', { class: 'muted url' })}`,
  ]);
  return section(
    'index',
    'Index',
    dl([
      ['State', badge(v, 'index.state', 'index.text')],
      ['Distfiles known', text(v, 'index.distfiles')],
      ['Repositories read', text(v, 'index.lastRead')],
    ]) +
      empty(v, 'index.empty', 'No repository indexed yet.') +
      repos,
  );
}

function sourcesTable(v: StatusView, path: string, first: string): string {
  return table<Row>(
    v,
    path,
    [first, 'State', 'Score (16 MiB)', 'TTFB', 'Throughput', 'Active', 'Requests', 'Problems'],
    (r) => [
      text(r, 'name', 'span', { class: 'url' }),
      badge(r, 'state', 'stateText'),
      text(r, 'score', 'span', { class: 'num' }),
      text(r, 'ttfb', 'span', { class: 'num' }),
      text(r, 'throughput', 'span', { class: 'num' }),
      text(r, 'active', 'span', { class: 'num' }),
      text(r, 'traffic'),
      text(r, 'problem', 'span', { class: 'problem' }),
    ],
    (r) => ({ class: 'source', ...stateAttrs(r, 'state') }),
  );
}

function sourcesSections(v: StatusView): string {
  return (
    section(
      'mirrors',
      'Mirrors',
      empty(v, 'mirrors.empty', 'No mirror configured (PORTCACHE_MIRRORS).') +
        sourcesTable(v, 'mirrors.rows', 'Mirror'),
    ) +
    section(
      'hosts',
      'SRC_URI hosts',
      empty(v, 'hosts.empty', 'No SRC_URI host asked yet.') +
        sourcesTable(v, 'hosts.rows', 'Host') +
        `<p class="muted">${text(v, 'hosts.more')}</p>`,
      'most recently asked first',
    )
  );
}

function topSection(v: StatusView): string {
  return section(
    'top',
    'Most requested, 24 h',
    empty(v, 'topFiles.empty', 'No distfile requested yet.') +
      table<Row>(v, 'topFiles.rows', ['File', 'Requests', 'Sent'], (r) => [
        text(r, 'name', 'span', { class: 'name' }),
        text(r, 'requests', 'span', { class: 'num' }),
        text(r, 'bytes', 'span', { class: 'num' }),
      ]),
  );
}

function explainSection(e: ExplainView): string {
  const sources = table<Row>(e, 'sources', ['Would come from', 'Why'], (r) => [
    text(r, 'where', 'span', { class: 'url' }),
    text(r, 'reason'),
  ]);
  return (
    `<section${attrs({ class: 'card', id: 'explain', 'aria-live': 'polite', ...visibility(e, 'show', 'shown') })}>` +
    `<h2>${text(e, 'name', 'span', { class: 'name' })} ${badge(e, 'state', 'verdict')}</h2>` +
    dl([
      ['Cached', text(e, 'cache')],
      ['Verified', text(e, 'verified')],
      ['Index', text(e, 'index')],
      ['Size', text(e, 'size')],
      ['Packages', text(e, 'packages')],
      ['Refused', text(e, 'refusal')],
    ]) +
    `${sources}</section>`
  );
}

export function renderPage(view: StatusView, explain: ExplainView, query: string): string {
  const v = view;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>portcache status</title>
<style>${PAGE_STYLE}</style></head>
<body data-api="${STATUS_API}">
<header class="top" data-live>
<h1>portcache <span class="muted">status</span></h1>
<span${attrs({ class: 'health', ...stateAttrs(v, 'health.state') })}>${text(v, 'health.text', 'b')} ${text(v, 'health.detail', 'span', { class: 'detail' })}</span>
<span class="meta">${text(v, 'uptime')} · <span id="conn" data-state="idle">snapshot: reload to update</span></span>
<form class="search" method="get" role="search"><input type="search" name="explain" value="${esc(query)}" placeholder="Explain a distfile: name" aria-label="Distfile name" autocomplete="off" spellcheck="false" maxlength="255" required><button type="submit">Explain</button></form>
</header>
<main>
${explainSection(explain)}
<div class="kpis" data-live>
${kpi(v, 'Hit ratio, last hour', 'kpi.hitHour', 'hits of file requests')}
${kpi(v, 'Hit ratio, 24 h', 'kpi.hitDay', 'hits of file requests')}
${kpi(v, 'Served, 24 h', 'kpi.servedDay', 'to clients')}
${kpi(v, 'Saved upstream, 24 h', 'kpi.savedDay', 'not downloaded again')}
${kpi(v, 'Cache', 'kpi.cacheBytes', { path: 'kpi.cacheFiles' })}
${kpi(v, 'Downloads running', 'kpi.fills', { path: 'kpi.fillsNote' })}
</div>
<div class="live" data-live>
${fillsSection(v)}
${trafficSection(v)}
<div class="pair">${cacheSection(v)}${indexSection(v)}</div>
${sourcesSections(v)}
${topSection(v)}
</div>
</main>
<footer>Read-only. Changes (janitor runs, imports, removals) go through the API with the admin token, or <code>portcache</code> on the command line. Also: <a href="/api/v1/stats">/api/v1/stats</a> · <a href="/api/v1/fills">/api/v1/fills</a> · <a href="/api/v1/mirrors">/api/v1/mirrors</a> · <a href="/health/ready">/health/ready</a> · <a href="/metrics">/metrics</a></footer>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
