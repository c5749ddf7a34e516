import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  expandMirrorUri,
  parseThirdpartyMirrors,
  splitMirrorUri,
  stackMirrorTables,
} from './thirdpartymirrors.js';

const fixture = (repo: string) =>
  parseThirdpartyMirrors(readFileSync(`test/fixtures/repos/${repo}/profiles/thirdpartymirrors`, 'utf8'));

describe('parseThirdpartyMirrors', () => {
  it('reads NAME url url lines with comments', () => {
    const table = parseThirdpartyMirrors(
      '# comment\nalpha\thttps://a.org/ https://b.org # trailing\nempty\n\nalpha https://c.org\n  beta   http://x.org/pub/  \n',
    );
    expect(table).toEqual(
      new Map([
        ['alpha', ['https://a.org/', 'https://b.org', 'https://c.org']],
        ['beta', ['http://x.org/pub/']],
      ]),
    );
  });

  it('reads the fixture files', () => {
    const gentoo = fixture('gentoo');
    expect(gentoo.get('openbsd')).toEqual(['https://mirrors.evowise.com/pub/OpenBSD/']);
    expect(gentoo.get('goproxy')).toEqual(['https://proxy.golang.org/', 'https://goproxy.io/']);
    expect(fixture('guru').get('zef')).toEqual(['https://360.zef.pm']);
  });
});

describe('stackMirrorTables', () => {
  it('merges a repository over its masters, as Portage stacks them', () => {
    const master = new Map([
      ['shared', ['https://m1.org', 'https://m2.org']],
      ['masteronly', ['https://m.org']],
      ['cleared', ['https://old.org']],
    ]);
    const overlay = new Map([
      ['shared', ['https://o.org', 'https://m1.org', '-https://m2.org']],
      ['overlayonly', ['https://o.org']],
      ['cleared', ['-*', 'https://new.org']],
    ]);
    expect(stackMirrorTables([master, overlay])).toEqual(
      new Map([
        ['shared', ['https://m1.org', 'https://o.org']],
        ['masteronly', ['https://m.org']],
        ['cleared', ['https://new.org']],
        ['overlayonly', ['https://o.org']],
      ]),
    );
  });

  it('merges the GURU fixture over its master gentoo', () => {
    const merged = stackMirrorTables([fixture('gentoo'), fixture('guru')]);
    expect(merged.get('openbsd')).toEqual(['https://mirrors.evowise.com/pub/OpenBSD/']);
    expect(merged.get('zef')).toEqual(['https://360.zef.pm']);
    expect([...merged.keys()]).toHaveLength(12);
  });
});

describe('expandMirrorUri', () => {
  const table = new Map([['debian', ['http://deb.debian.org/debian/', 'http://ftp.de.debian.org/debian']]]);

  it('expands each base URL, with exactly one slash', () => {
    expect(expandMirrorUri('mirror://debian/pool/main/p/x_1.0.tar.xz', table)).toEqual([
      'http://deb.debian.org/debian/pool/main/p/x_1.0.tar.xz',
      'http://ftp.de.debian.org/debian/pool/main/p/x_1.0.tar.xz',
    ]);
  });

  it('is undefined for an unknown name or a mirror URI without a path, and leaves other URIs alone', () => {
    expect(expandMirrorUri('mirror://nongnu/acl/acl-2.3.2.tar.xz', table)).toBeUndefined();
    expect(expandMirrorUri('mirror://debian', table)).toBeUndefined();
    expect(expandMirrorUri('https://e.org/a', table)).toEqual(['https://e.org/a']);
    expect(splitMirrorUri('mirror://gentoo/ab/cd.tar')).toEqual({ name: 'gentoo', path: 'ab/cd.tar' });
  });
});
