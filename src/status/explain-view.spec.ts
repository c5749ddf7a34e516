import { describe, expect, it } from 'vitest';
import { type Explanation, explainView } from './explain-view.js';

function explanation(overrides: Partial<Explanation> = {}): Explanation {
  return {
    name: 'foo-1.0.tar.gz',
    index: { ready: true, known: false },
    cache: { cached: false, filling: false },
    refusal: null,
    sources: [{ kind: 'mirrors', mirrors: ['http://m1', 'http://m2'], reason: 'mirrors first' }],
    ...overrides,
  } as Explanation;
}

describe('explainView', () => {
  it('a file not cached and not in the index: the first request downloads it from the mirrors', () => {
    const view = explainView(explanation());
    expect(view).toMatchObject({
      shown: true,
      state: 'idle',
      verdict: 'not cached: the first request downloads it',
      cache: 'no',
      verified: '—',
      index: 'not in any Manifest of the indexed repositories',
      sources: [{ key: '0', where: 'mirrors: http://m1, http://m2', reason: 'mirrors first' }],
    });
  });

  it('a cached file that matches its Manifest, with its packages', () => {
    const view = explainView(
      explanation({
        index: {
          ready: true,
          known: true,
          size: 2048,
          verifiable: true,
          packages: [{ repo: 'gentoo', cpv: 'app-misc/foo-1.0', restrict: [], uris: [] }],
        },
        cache: { cached: true, filling: false, matchesIndex: true, matchedManifest: { repos: ['gentoo'] } },
      } as unknown as Partial<Explanation>),
    );
    expect(view).toMatchObject({
      state: 'ok',
      verdict: 'cached: served from the cache',
      verified: 'yes: matches the Manifest of gentoo',
      index: 'known to the index',
      size: '2.00 KiB',
      packages: 'gentoo::app-misc/foo-1.0',
    });
  });

  it('a cached file that contradicts the Manifest, and a refused one', () => {
    const bad = explainView(
      explanation({
        cache: { cached: true, filling: false, matchesIndex: 'BLAKE2B differs' },
      } as unknown as Partial<Explanation>),
    );
    expect(bad).toMatchObject({ state: 'bad', verified: 'NO: BLAKE2B differs' });
    const refused = explainView(explanation({ refusal: 'RESTRICT=fetch', sources: [] }));
    expect(refused).toMatchObject({
      state: 'bad',
      verdict: 'refused',
      refusal: 'RESTRICT=fetch',
      noSources: true,
    });
  });
});
