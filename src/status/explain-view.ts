import type { DistfileExplainer } from '../admin/distfile-explainer.service.js';
import type { Tone } from './source-view.js';
import { formatBytes } from './view-format.js';

/** GET /api/v1/distfiles/:name's answer. */
export type Explanation = ReturnType<DistfileExplainer['explain']>;

export interface ExplainView {
  shown: boolean;
  name: string;
  state: Tone;
  verdict: string;
  cache: string;
  verified: string;
  index: string;
  size: string;
  packages: string;
  refusal: string;
  sources: { key: string; where: string; reason: string }[];
  noSources: boolean;
}

export const NO_EXPLANATION: ExplainView = {
  shown: false,
  name: '',
  state: 'idle',
  verdict: '',
  cache: '',
  verified: '',
  index: '',
  size: '',
  packages: '',
  refusal: '',
  sources: [],
  noSources: true,
};

/** The explain answer in a sentence or two per question: cached? verified? where from? */
export function explainView(e: Explanation): ExplainView {
  const { cache, index } = e;
  const cached = cache.cached;
  const matches = 'matchesIndex' in cache ? cache.matchesIndex : null;
  const verified = !cached
    ? '—'
    : matches === true
      ? `yes: matches the Manifest${'matchedManifest' in cache && cache.matchedManifest ? ` of ${cache.matchedManifest.repos.join(', ')}` : ''}`
      : matches === null
        ? 'no Manifest to check it against'
        : `NO: ${String(matches)}`;
  const packages =
    'packages' in index && index.packages ? index.packages.map((p) => `${p.repo}::${p.cpv}`) : [];
  const state: Tone = e.refusal
    ? 'bad'
    : cached
      ? matches === true || matches === null
        ? 'ok'
        : 'bad'
      : 'idle';
  return {
    shown: true,
    name: e.name,
    state,
    verdict: cached
      ? 'cached: served from the cache'
      : cache.filling
        ? 'being downloaded now'
        : e.refusal
          ? 'refused'
          : 'not cached: the first request downloads it',
    cache: cached
      ? `yes${cache.filling ? ', and being written' : ''}`
      : cache.filling
        ? 'downloading now'
        : 'no',
    verified,
    index: !index.ready
      ? 'the index is not built yet'
      : index.known
        ? `known to the index${'verifiable' in index && index.verifiable === false ? ' (no digest to verify it)' : ''}`
        : 'not in any Manifest of the indexed repositories',
    size: 'size' in index && typeof index.size === 'number' ? formatBytes(index.size) : '—',
    packages:
      packages.length > 0 ? packages.slice(0, 10).join(', ') + (packages.length > 10 ? ', …' : '') : '—',
    refusal: e.refusal ?? 'no',
    sources: e.sources.map((s, i) => ({
      key: String(i),
      where: s.kind === 'mirrors' ? `mirrors: ${s.mirrors?.join(', ') || 'none configured'}` : (s.url ?? '—'),
      reason: s.reason,
    })),
    noSources: e.sources.length === 0,
  };
}

/** What a name the explain answer refused (400: not a distfile name) shows. */
export function explainError(name: string, message: string): ExplainView {
  return { ...NO_EXPLANATION, shown: true, name, state: 'bad', verdict: message, refusal: message };
}
