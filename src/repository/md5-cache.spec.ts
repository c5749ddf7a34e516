import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMd5CacheEntry } from './md5-cache.js';

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
