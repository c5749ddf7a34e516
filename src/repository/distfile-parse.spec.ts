import { describe, expect, it } from 'vitest';
import { filesOf } from './distfile-parse.js';
import { LiftedUris } from './distfile-records.js';
import { parseSrcUri } from './src-uri.js';

describe('filesOf', () => {
  it('gives each name its URIs in SRC_URI order and drops exact repeats', () => {
    const items = parseSrcUri(
      'https://a.org/x.tar.gz https://b.org/x.tar.gz use? ( https://a.org/x.tar.gz ) y.patch ' +
        'https://c.org/get -> x.tar.gz y.patch https://d.org/y.patch',
    );
    expect(filesOf(items)).toEqual({
      names: ['x.tar.gz', 'y.patch'],
      uris: [
        ['https://a.org/x.tar.gz', 'https://b.org/x.tar.gz', 'https://c.org/get'],
        ['https://d.org/y.patch'],
      ],
    });
  });

  it('tells a URI with a lift from the same URI without one', () => {
    const items = parseSrcUri(
      'fetch+https://a.org/x.tar.gz https://a.org/x.tar.gz fetch+https://a.org/x.tar.gz https://a.org/x.tar.gz',
    );
    expect(filesOf(items)).toEqual({
      names: ['x.tar.gz'],
      uris: [new LiftedUris(['https://a.org/x.tar.gz', 'https://a.org/x.tar.gz'], ['fetch', undefined])],
    });
    const plainFirst = parseSrcUri('https://a.org/z.gz mirror+https://a.org/z.gz https://a.org/z.gz');
    expect(filesOf(plainFirst).uris).toEqual([
      new LiftedUris(['https://a.org/z.gz', 'https://a.org/z.gz'], [undefined, 'mirror']),
    ]);
  });

  it('drops repeats in long lists too (a crate list: one look-up table instead of a scan)', () => {
    const crates = Array.from(
      { length: 40 },
      (_, i) => `https://crates.io/api/v1/crates/c${i}/1.0/download -> c${i}-1.0.crate`,
    );
    const items = parseSrcUri(
      [...crates, ...crates.slice(0, 10), 'https://mirror.org/c3-1.0.crate'].join(' '),
    );
    const { names, uris } = filesOf(items);
    expect(names).toEqual(Array.from({ length: 40 }, (_, i) => `c${i}-1.0.crate`));
    expect(uris[0]).toBe('https://crates.io/api/v1/crates/c0/1.0/download');
    expect(uris[3]).toEqual([
      'https://crates.io/api/v1/crates/c3/1.0/download',
      'https://mirror.org/c3-1.0.crate',
    ]);
    expect(uris[39]).toBe('https://crates.io/api/v1/crates/c39/1.0/download');
  });
});
