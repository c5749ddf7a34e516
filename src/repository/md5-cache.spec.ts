import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMd5CacheEntry, readMd5CacheFields } from './md5-cache.js';

const XONE = 'test/fixtures/repos/guru/metadata/md5-cache/games-util/xone-0.5.8';

describe('parseMd5CacheEntry', () => {
  it('reads every KEY=value line of a real entry', () => {
    const entry = parseMd5CacheEntry(readFileSync(XONE));
    expect(entry.EAPI).toBe('8');
    expect(entry.RESTRICT).toBe('bindist mirror test');
    expect(entry._md5_).toBe('d5a29cbb27bc75b5f26f11e07a5fa172');
    expect(entry.RDEPEND).toBe('sys-apps/kmod[tools] dist-kernel? ( virtual/dist-kernel:= )');
    expect(entry.SRC_URI).toMatch(
      /^mirror\+https:\/\/github\.com\/dlundqvist\/xone\/archive\/v0\.5\.8\.tar\.gz -> /,
    );
  });

  it('splits on the first = only and skips lines without a key', () => {
    expect(parseMd5CacheEntry('A=b=c\n=orphan\nno equals\r\nEAPI=7\r\n')).toEqual({ A: 'b=c', EAPI: '7' });
  });
});

describe('readMd5CacheFields', () => {
  it('returns EAPI, RESTRICT and SRC_URI tokens', () => {
    const fields = readMd5CacheFields(readFileSync(XONE));
    expect(fields.eapi).toBe('8');
    expect(fields.restrict).toBe('bindist mirror test');
    expect(fields.srcUri.slice(0, 4)).toEqual([
      'mirror+https://github.com/dlundqvist/xone/archive/v0.5.8.tar.gz',
      '->',
      'xone-0.5.8.tar.gz',
      'https://catalog.s.download.windowsupdate.com/d/msdownload/update/driver/drvs/2017/03/2ea9591b-f751-442c-80ce-8f4692cdc67b_6b555a3a288153cf04aec6e03cba360afe2fce34.cab',
    ]);
    expect(fields.srcUri).toHaveLength(15);
  });

  it('copes with CRLF, tabs and a missing SRC_URI', () => {
    expect(readMd5CacheFields(Buffer.from('EAPI=8\r\nSRC_URI=a\tb  ( c )\r\n'))).toEqual({
      eapi: '8',
      srcUri: ['a', 'b', '(', 'c', ')'],
    });
    expect(readMd5CacheFields(Buffer.from('EAPI=8\n'))).toEqual({ eapi: '8', srcUri: [] });
  });
});
