import { describe, expect, it } from 'vitest';
import { LiftedUris, NO_RESTRICT, restrictFlagsOfBits, UriPrefixes } from './distfile-records.js';
import { packMd5CacheEntry } from './md5-cache-pack.js';
import { forEachPackedFile, readPackedMd5Cache, readPackedSrcUri } from './md5-cache-read.js';
import { parseSrcUri } from './src-uri.js';

/** An entry as the reader thread packs it, read back as the index reads it. */
function read(entry: string) {
  return readPackedMd5Cache(packMd5CacheEntry(Buffer.from(entry)));
}

function filesOf(srcUri: string) {
  const result = read(`EAPI=8\nSRC_URI=${srcUri}\n`);
  if (result === undefined || result.error !== undefined) throw new Error(result?.error);
  return { names: result.names, uris: result.uris };
}

describe('md5Packer', () => {
  it('gives each name its URIs in SRC_URI order and drops exact repeats', () => {
    expect(
      filesOf(
        'https://a.org/x.tar.gz https://b.org/x.tar.gz use? ( https://a.org/x.tar.gz ) y.patch ' +
          'https://c.org/get -> x.tar.gz y.patch https://d.org/y.patch',
      ),
    ).toEqual({
      names: ['x.tar.gz', 'y.patch'],
      // A name first met bare has no URI of its own: the later one makes a list.
      uris: [
        ['https://a.org/x.tar.gz', 'https://b.org/x.tar.gz', 'https://c.org/get'],
        ['https://d.org/y.patch'],
      ],
    });
    expect(filesOf('a.patch https://e.org/b.gz a.patch')).toEqual({
      names: ['a.patch', 'b.gz'],
      uris: [undefined, 'https://e.org/b.gz'],
    });
  });

  it('tells a URI with a lift from the same URI without one', () => {
    expect(
      filesOf(
        'fetch+https://a.org/x.tar.gz https://a.org/x.tar.gz fetch+https://a.org/x.tar.gz https://a.org/x.tar.gz',
      ).uris,
    ).toEqual([new LiftedUris(['https://a.org/x.tar.gz', 'https://a.org/x.tar.gz'], ['fetch', undefined])]);
    expect(filesOf('https://a.org/z.gz mirror+https://a.org/z.gz https://a.org/z.gz').uris).toEqual([
      new LiftedUris(['https://a.org/z.gz', 'https://a.org/z.gz'], [undefined, 'mirror']),
    ]);
    expect(filesOf('mirror+https://a.org/1.tar.gz -> y.tar.gz').uris).toEqual([
      new LiftedUris(['https://a.org/1.tar.gz'], ['mirror']),
    ]);
  });

  it('drops repeats in long lists too (a crate list)', () => {
    const crates = Array.from(
      { length: 40 },
      (_, i) => `https://crates.io/api/v1/crates/c${i}/1.0/download -> c${i}-1.0.crate`,
    );
    const { names, uris } = filesOf(
      [...crates, ...crates.slice(0, 10), 'https://mirror.org/c3-1.0.crate'].join(' '),
    );
    expect(names).toEqual(Array.from({ length: 40 }, (_, i) => `c${i}-1.0.crate`));
    expect(uris[0]).toBe('https://crates.io/api/v1/crates/c0/1.0/download');
    expect(uris[3]).toEqual([
      'https://crates.io/api/v1/crates/c3/1.0/download',
      'https://mirror.org/c3-1.0.crate',
    ]);
    expect(uris[39]).toBe('https://crates.io/api/v1/crates/c39/1.0/download');
  });

  it('keeps non-ASCII names and URIs as UTF-8, a name met twice as one', () => {
    expect(
      filesOf('https://e.org/dl/naïve-1.0.tar.gz https://f.org/x -> naïve-1.0.tar.gz ( 日本語.zip )'),
    ).toEqual({
      names: ['naïve-1.0.tar.gz', '日本語.zip'],
      uris: [['https://e.org/dl/naïve-1.0.tar.gz', 'https://f.org/x'], undefined],
    });
  });

  it('names the same files as parseSrcUri', () => {
    const text =
      'amd64? ( https://e.org/a.tar.xz ) x86? ( https://e.org/a.tar.xz -> a.tar.xz ) fetch+https://e.org/p.tar -> q.tar b.zip';
    const items = parseSrcUri(text);
    expect(filesOf(text).names).toEqual([...new Set(items.map((item) => item.name))]);
  });

  it('reads the last SRC_URI and RESTRICT, CRLF or not, and nothing without a SRC_URI token', () => {
    expect(read('EAPI=8\n')).toBeUndefined();
    expect(read('SRC_URI= \t\nRESTRICT=fetch\n')).toBeUndefined();
    expect(read('SRC_URI=https://e.org/a.gz\r\nRESTRICT=strip\r\nSRC_URI=https://e.org/b.gz\r\n')).toEqual({
      restrict: NO_RESTRICT,
      restrictError: undefined,
      names: ['b.gz'],
      uris: ['https://e.org/b.gz'],
    });
    // Parses, names nothing: still a package (with its RESTRICT).
    expect(read('SRC_URI=doc? ( )\nRESTRICT=mirror')).toMatchObject({
      names: [],
      restrict: restrictFlagsOfBits(2),
    });
  });

  it('finds fetch, mirror (or nomirror) and primaryuri in every RESTRICT branch', () => {
    const restrict = (text: string) => read(`SRC_URI=a.gz\nRESTRICT=${text}\n`);
    expect(restrict('!test? ( test ) fetch')).toMatchObject({ restrict: restrictFlagsOfBits(1) });
    expect(restrict('a? ( nomirror ) b? ( ( primaryuri ) )')).toMatchObject({
      restrict: restrictFlagsOfBits(6),
    });
    expect(restrict('mirrors fetching')).toMatchObject({ restrict: NO_RESTRICT, restrictError: undefined });
    expect(restrict('  ')).toMatchObject({ restrict: NO_RESTRICT, restrictError: undefined });
  });

  it('takes every word of a RESTRICT that does not parse, and says why', () => {
    expect(read('SRC_URI=a.gz\nRESTRICT=test? ( mirror\n')).toMatchObject({
      restrict: restrictFlagsOfBits(2),
      restrictError: "missing ')' at the end (1 open)",
      names: ['a.gz'],
    });
    expect(read('SRC_URI=a.gz\nRESTRICT=fetch -> primaryuri')).toMatchObject({
      restrict: restrictFlagsOfBits(5),
      restrictError: "'->' is not allowed in RESTRICT (token 2)",
    });
  });

  it.each([
    ['an unclosed group', 'foo? ( https://e.org/a.gz', "missing ')' at the end (1 open)"],
    ['a stray )', 'https://e.org/a.gz )', "unbalanced ')' (token 2)"],
    ['||', '|| ( https://e.org/a.gz )', "'||' is not allowed here (token 1)"],
    ['-> at the end', 'https://e.org/a.gz ->', "missing file name after '->' at the end"],
    ['-> after a bare name', 'a.tar.gz -> b.tar.gz', "'->' must follow a URI (token 2)"],
    ['-> twice', 'https://e.org/a.gz -> b.gz -> c.gz', "'->' must follow a URI (token 4)"],
    [
      'a path as -> target',
      'https://e.org/a.gz -> dir/b.gz',
      "expected a file name after '->', got 'dir/b.gz' (token 3)",
    ],
    [
      'a conditional without a group',
      'doc? https://e.org/a.gz',
      "expected '(' after 'doc?', got 'https://e.org/a.gz' (token 2)",
    ],
    ['an odd conditional', 'd=c? ( a.gz )', "invalid USE conditional 'd=c?' (token 1)"],
    ['a conditional at the end', 'a.gz doc?', "'doc?' without '(' at the end"],
    ['a URI naming no file', 'https://e.org/dir/', "'https://e.org/dir/' names no file"],
    [
      'non-ASCII in a message',
      'https://e.org/ü.gz -> ü/x',
      "expected a file name after '->', got 'ü/x' (token 3)",
    ],
  ])('says why a SRC_URI does not parse: %s', (_, text, message) => {
    expect(read(`SRC_URI=${text}\nRESTRICT=(\n`)).toEqual({ error: message });
    expect(() => parseSrcUri(text)).toThrow(message);
  });

  it('hands a lone <prefix>/<name> URI over as its prefix', () => {
    const data = packMd5CacheEntry(
      Buffer.from(
        'SRC_URI=https://e.org/d/a.gz https://e.org/d/b.gz https://e.org/d/ü.gz https://e.org/get -> c.gz ' +
          'https://e.org/x/d.gz -> d.gz /e.gz mirror+https://e.org/d/f.gz\n',
      ),
    );
    const read = readPackedSrcUri(data);
    if (read === undefined || read.error !== undefined) throw new Error(read?.error);
    const prefixes = new UriPrefixes();
    const seen: Array<[string, unknown, boolean]> = [];
    const prefixOfBytes = (bytes: Buffer, start: number, end: number) =>
      prefixes.compactBytes(bytes, start, end);
    forEachPackedFile(data, read.files, { prefixOfBytes }, (start, end, uris, prefixed) =>
      seen.push([data.toString('utf8', start, end), uris, prefixed]),
    );
    expect(seen).toEqual([
      ['a.gz', 'https://e.org/d/', true],
      ['b.gz', 'https://e.org/d/', true],
      ['ü.gz', 'https://e.org/d/', true],
      ['c.gz', 'https://e.org/get', false],
      // Renamed to its own last segment: a prefix all the same, as UriPrefixes.compact makes it.
      ['d.gz', 'https://e.org/x/', true],
      // A bare name with a path: no URI.
      ['e.gz', undefined, false],
      ['f.gz', new LiftedUris(['https://e.org/d/f.gz'], ['mirror']), false],
    ]);
    // One string per prefix, whether found by bytes or by compact().
    expect(seen[1][1]).toBe(seen[0][1]);
    expect(prefixes.compact('z.gz', 'https://e.org/x/z.gz')).toBe(seen[4][1]);
  });

  it('takes a SRC_URI that is not valid UTF-8 as its decoded text, as the index always did', () => {
    // Bytes that are not UTF-8 (\xff, \xfd, \xc3/) and the replacement character itself (EF BF
    // BD) decode the same: one name, one URI.
    const entry = Buffer.concat([
      Buffer.from(
        'SRC_URI=https://e.org/\xff.gz https://e.org/\u{fffd}.gz https://f.org/a\xc3/b.gz',
        'latin1',
      ),
      Buffer.from(' https://e.org/\u{fffd}.gz\nRESTRICT=mirror\n'),
    ]);
    expect(entry.includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(true);
    expect(readPackedMd5Cache(packMd5CacheEntry(entry))).toEqual({
      restrict: restrictFlagsOfBits(2),
      restrictError: undefined,
      names: ['\u{fffd}.gz', 'b.gz'],
      uris: ['https://e.org/\u{fffd}.gz', 'https://f.org/a\u{fffd}/b.gz'],
    });
  });
});
