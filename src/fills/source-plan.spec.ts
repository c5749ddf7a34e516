import { describe, expect, it } from 'vitest';
import type { DistfileEntry, DistfileSource } from '../repository/distfile-snapshot.js';
import { planSources } from './source-plan.js';

const NONE = { fetch: false, mirror: false, primaryuri: false };

function source(
  repo: string,
  urls: string[],
  restrict: Partial<typeof NONE> = {},
  lifts?: 'fetch' | 'mirror',
): DistfileSource {
  return {
    repo,
    cpv: `app-misc/${repo}-pkg-1`,
    uris: urls.map((url) => (lifts ? { url, lifts } : { url })),
    restrict: { ...NONE, ...restrict },
  };
}

function entry(...sources: DistfileSource[]): DistfileEntry {
  return {
    name: 'f.tar.gz',
    size: 3,
    BLAKE2B: 'ab',
    verifiable: true,
    manifests: [{ repos: ['gentoo'], size: 3, BLAKE2B: 'ab' }],
    sources,
  };
}

const kinds = (name: string, e?: DistfileEntry) =>
  planSources(name, e).steps.map((step) => (step.kind === 'mirrors' ? 'mirrors' : step.url));

describe('planSources', () => {
  it('sends a file unknown to every repository to the mirrors only', () => {
    expect(kinds('f.tar.gz')).toEqual(['mirrors']);
  });

  it('tries the mirrors, then SRC_URI, for an unrestricted ::gentoo file', () => {
    expect(kinds('f.tar.gz', entry(source('gentoo', ['https://a.org/f.tar.gz'])))).toEqual([
      'mirrors',
      'https://a.org/f.tar.gz',
    ]);
  });

  it('puts SRC_URI first under RESTRICT=primaryuri', () => {
    const e = entry(source('gentoo', ['https://a.org/f.tar.gz'], { primaryuri: true }));
    expect(kinds('f.tar.gz', e)).toEqual(['https://a.org/f.tar.gz', 'mirrors']);
  });

  it('skips the mirrors for overlay-only and mirror-restricted files', () => {
    expect(kinds('f.tar.gz', entry(source('guru', ['https://a.org/f.tar.gz'])))).toEqual([
      'https://a.org/f.tar.gz',
    ]);
    const restricted = entry(source('gentoo', ['https://b.org/f.tar.gz'], { mirror: true }));
    expect(kinds('f.tar.gz', restricted)).toEqual(['https://b.org/f.tar.gz']);
  });

  it('maps mirror://gentoo URIs to the configured mirrors, in SRC_URI order', () => {
    const e = entry(source('guru', ['https://a.org/f.tar.gz', 'mirror://gentoo/f.tar.gz']));
    expect(kinds('f.tar.gz', e)).toEqual(['https://a.org/f.tar.gz', 'mirrors']);
  });

  it('merges sources of several packages without repeating a URL', () => {
    const e = entry(
      source('guru', ['https://a.org/f.tar.gz']),
      source('other', ['https://a.org/f.tar.gz', 'https://c.org/f']),
    );
    expect(kinds('f.tar.gz', e)).toEqual(['https://a.org/f.tar.gz', 'https://c.org/f']);
  });

  it('refuses a fetch-restricted file, naming the package and portcache import', () => {
    const plan = planSources('f.tar.gz', entry(source('gentoo', [], { fetch: true })));
    expect(plan.steps).toEqual([]);
    expect(plan.refusal).toContain('RESTRICT=fetch in app-misc/gentoo-pkg-1::gentoo');
    expect(plan.refusal).toContain('portcache import f.tar.gz');
  });

  it('fetches only the fetch+/mirror+ URIs of a fetch-restricted package', () => {
    const lifted = source('gentoo', ['https://a.org/f.tar.gz'], { fetch: true }, 'fetch');
    expect(kinds('f.tar.gz', entry(lifted))).toEqual(['https://a.org/f.tar.gz']);
    const plain = source('gentoo', ['https://a.org/f.tar.gz'], { fetch: true });
    expect(planSources('f.tar.gz', entry(plain)).refusal).toBeDefined();
  });
});
