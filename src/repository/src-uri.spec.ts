import { describe, expect, it } from 'vitest';
import { DependStringError, parseRestrict, parseSrcUri, SrcUriError } from './src-uri.js';

describe('parseSrcUri', () => {
  it('names a plain URI after its last path segment, as written', () => {
    expect(
      parseSrcUri('https://example.org/dl/foo-1.0.tar.gz https://example.org/gtk%2B-2.24.33.tar.xz'),
    ).toEqual([
      { name: 'foo-1.0.tar.gz', uri: 'https://example.org/dl/foo-1.0.tar.gz' },
      { name: 'gtk%2B-2.24.33.tar.xz', uri: 'https://example.org/gtk%2B-2.24.33.tar.xz' },
    ]);
  });

  it('applies -> renames', () => {
    expect(parseSrcUri('https://github.com/o/r/archive/v1.0.tar.gz -> r-1.0.tar.gz')).toEqual([
      { name: 'r-1.0.tar.gz', uri: 'https://github.com/o/r/archive/v1.0.tar.gz' },
    ]);
  });

  it('takes every branch of nested USE conditionals, renames inside them included', () => {
    const text =
      'amd64? ( !qt6? ( https://e.org/a.gtk.tar.xz ) qt6? ( https://e.org/a.qt.tar.xz -> a-qt6.tar.xz ) ) ' +
      'x86? ( https://e.org/a.i386.tar.xz ) ( https://e.org/plain-group.tar.gz )';
    expect(parseSrcUri(text)).toEqual([
      { name: 'a.gtk.tar.xz', uri: 'https://e.org/a.gtk.tar.xz' },
      { name: 'a-qt6.tar.xz', uri: 'https://e.org/a.qt.tar.xz' },
      { name: 'a.i386.tar.xz', uri: 'https://e.org/a.i386.tar.xz' },
      { name: 'plain-group.tar.gz', uri: 'https://e.org/plain-group.tar.gz' },
    ]);
  });

  it('keeps bare file names without a URI', () => {
    expect(
      parseSrcUri('vmd-1.9.4a57.src.tar.gz fetch+https://dev.gentoo.org/~pacho/vmd/patches.tar.xz'),
    ).toEqual([
      { name: 'vmd-1.9.4a57.src.tar.gz' },
      { name: 'patches.tar.xz', uri: 'https://dev.gentoo.org/~pacho/vmd/patches.tar.xz', lifts: 'fetch' },
    ]);
  });

  it('records fetch+ and mirror+ per URI and strips them, renamed or not', () => {
    expect(
      parseSrcUri(
        'mirror+https://github.com/x/y/archive/1.tar.gz -> y-1.tar.gz https://other.org/z.cab -> z.cab fetch+mirror://gentoo/ab/f.tar',
      ),
    ).toEqual([
      { name: 'y-1.tar.gz', uri: 'https://github.com/x/y/archive/1.tar.gz', lifts: 'mirror' },
      { name: 'z.cab', uri: 'https://other.org/z.cab' },
      { name: 'f.tar', uri: 'mirror://gentoo/ab/f.tar', lifts: 'fetch' },
    ]);
  });

  it('treats a prefix without a URL after it as part of a bare name, as Portage does', () => {
    expect(parseSrcUri('fetch+foo.tar.gz')).toEqual([{ name: 'fetch+foo.tar.gz' }]);
  });

  it('keeps mirror:// URIs for later expansion', () => {
    expect(parseSrcUri('mirror://openbsd/OpenBGPD/openbgpd-8.5.tar.gz')).toEqual([
      { name: 'openbgpd-8.5.tar.gz', uri: 'mirror://openbsd/OpenBGPD/openbgpd-8.5.tar.gz' },
    ]);
  });

  it('keeps one file under several URIs in order, repeats as written (filesOf drops them)', () => {
    const text =
      'https://a.org/x.tar.gz https://b.org/x.tar.gz use? ( https://a.org/x.tar.gz ) https://c.org/get -> x.tar.gz';
    expect(parseSrcUri(text)).toEqual([
      { name: 'x.tar.gz', uri: 'https://a.org/x.tar.gz' },
      { name: 'x.tar.gz', uri: 'https://b.org/x.tar.gz' },
      { name: 'x.tar.gz', uri: 'https://a.org/x.tar.gz' },
      { name: 'x.tar.gz', uri: 'https://c.org/get' },
    ]);
  });

  it('accepts any whitespace and empty groups', () => {
    expect(parseSrcUri('  \thttps://e.org/a.gz\n\n doc? ( ) ')).toEqual([
      { name: 'a.gz', uri: 'https://e.org/a.gz' },
    ]);
    expect(parseSrcUri('')).toEqual([]);
  });

  it.each([
    ['an unclosed group', 'foo? ( https://e.org/a.gz', /missing '\)'/],
    ['a stray )', 'https://e.org/a.gz )', /unbalanced '\)'/],
    ['||', '|| ( https://e.org/a.gz https://e.org/b.gz )', /'\|\|' is not allowed/],
    ['-> at the end', 'https://e.org/a.gz ->', /missing file name after '->'/],
    ['-> after a bare name', 'a.tar.gz -> b.tar.gz', /'->' must follow a URI/],
    ['-> after a group', '( https://e.org/a.gz ) -> b.gz', /'->' must follow a URI/],
    ['-> twice', 'https://e.org/a.gz -> b.gz -> c.gz', /'->' must follow a URI/],
    ['a path as -> target', 'https://e.org/a.gz -> dir/b.gz', /expected a file name after '->'/],
    ['a group as -> target', 'https://e.org/a.gz -> ( b.gz )', /expected a file name after '->'/],
    ['a conditional without a group', 'doc? https://e.org/a.gz', /expected '\(' after 'doc\?'/],
    ['a URI naming no file', 'https://e.org/dir/', /names no file/],
  ])('throws SrcUriError on %s', (_, text, message) => {
    expect(() => parseSrcUri(text)).toThrow(SrcUriError);
    expect(() => parseSrcUri(text)).toThrow(message);
  });
});

describe('parseRestrict', () => {
  it('collects the tokens of every branch', () => {
    expect(parseRestrict('bindist mirror test')).toEqual(new Set(['bindist', 'mirror', 'test']));
    expect(parseRestrict('fetch !test? ( test )')).toEqual(new Set(['fetch', 'test']));
    expect(parseRestrict('a? ( !b? ( mirror ) ( primaryuri ) ) strip')).toEqual(
      new Set(['mirror', 'primaryuri', 'strip']),
    );
    expect(parseRestrict('')).toEqual(new Set());
  });

  it('throws on malformed input', () => {
    expect(() => parseRestrict('test? ( mirror')).toThrow(DependStringError);
    expect(() => parseRestrict('|| ( mirror fetch )')).toThrow(DependStringError);
    expect(() => parseRestrict('test? mirror')).toThrow(DependStringError);
  });
});
