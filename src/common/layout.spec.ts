import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BLAKE2B_8, FLAT, layoutPath, parseLayoutConf } from './layout.js';

const vectors = readFileSync(new URL('../../test/fixtures/glep75-vectors.tsv', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line && !line.startsWith('#'))
  .map((line) => line.split('\t'));

describe('GLEP 75 layouts', () => {
  it.each(vectors)('%s → %s', (name, _hash, path, urlPath) => {
    expect(layoutPath(BLAKE2B_8, name)).toBe(path);
    const encoded = layoutPath(BLAKE2B_8, name).split('/').map(encodeURIComponent).join('/');
    expect(`/distfiles/${encoded}`).toBe(urlPath);
  });

  it('takes the first supported entry, as Portage does', () => {
    expect(parseLayoutConf('[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n')).toEqual(BLAKE2B_8);
    expect(parseLayoutConf('[structure]\n1=flat\n0=content-hash SHA512 8\n')).toEqual(FLAT);
    expect(parseLayoutConf('[structure]\n0=filename-hash WHIRLPOOL 8\n1=filename-hash SHA1 4:8\n')).toEqual({
      kind: 'filename-hash',
      algorithm: 'SHA1',
      cutoffs: [4, 8],
    });
    expect(parseLayoutConf('[structure]\n0=filename-hash BLAKE2B 6\n')).toEqual(FLAT);
    expect(parseLayoutConf('[other]\n0=filename-hash BLAKE2B 8\n')).toEqual(FLAT);
    expect(parseLayoutConf('<html>not a layout</html>')).toEqual(FLAT);
  });

  it('splits the hash by every cutoff', () => {
    const layout = parseLayoutConf('[structure]\n0=filename-hash BLAKE2B 8:8\n');
    expect(layoutPath(layout, 'which-2.23.tar.gz')).toBe('80/0b/which-2.23.tar.gz');
  });
});
