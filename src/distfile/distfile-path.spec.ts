import { BadRequestException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../common/layout.js';
import { parseDistfilePath } from './distfile-path.js';

describe('parseDistfilePath', () => {
  const name = 'foo-1.0.tar.gz';
  const prefix = blake2bPrefix(name);

  it('reads layout.conf, flat and hashed paths, ignoring a query', () => {
    expect(parseDistfilePath('/distfiles/layout.conf')).toEqual({ kind: 'layout' });
    expect(parseDistfilePath(`/distfiles/${name}`)).toEqual({ kind: 'file', name });
    expect(parseDistfilePath(`/distfiles/${prefix}/${name}?x=1`)).toEqual({ kind: 'file', name });
  });

  it('decodes percent-encoding once', () => {
    expect(parseDistfilePath('/distfiles/a%20b%2525.tar.gz')).toEqual({
      kind: 'file',
      name: 'a b%25.tar.gz',
    });
  });

  it('refuses names no Portage would ask for with a 400', () => {
    for (const url of [
      '/distfiles/..',
      '/distfiles/a%2Fb',
      '/distfiles/a%00b',
      '/distfiles/%E0%A4%A',
      '/distfiles/',
    ]) {
      expect(() => parseDistfilePath(url), url).toThrow(BadRequestException);
    }
  });

  it('answers 404 for a wrong GLEP 75 directory and deeper paths', () => {
    const other = prefix === '00' ? '01' : '00';
    for (const url of [
      `/distfiles/${other}/${name}`,
      `/distfiles/zz/${name}`,
      `/distfiles/a/b/${name}`,
      '/other',
    ]) {
      expect(() => parseDistfilePath(url), url).toThrow(NotFoundException);
    }
  });

  it('checks the prefix of a name asked for again, right or wrong, as the first time', () => {
    const other = prefix === '00' ? '01' : '00';
    for (let i = 0; i < 3; i++) {
      expect(parseDistfilePath(`/distfiles/${prefix}/${name}`)).toEqual({ kind: 'file', name });
      expect(() => parseDistfilePath(`/distfiles/${other}/${name}`)).toThrow(NotFoundException);
    }
    // Past the names it remembers, it starts over and still answers right.
    for (let i = 0; i < 5000; i++) {
      const each = `pkg-${i}.tar.gz`;
      expect(parseDistfilePath(`/distfiles/${blake2bPrefix(each)}/${each}`)).toEqual({
        kind: 'file',
        name: each,
      });
    }
    expect(() => parseDistfilePath(`/distfiles/${other}/${name}`)).toThrow(NotFoundException);
    expect(parseDistfilePath(`/distfiles/${prefix}/${name}`)).toEqual({ kind: 'file', name });
  });
});
