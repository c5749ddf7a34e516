import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.js';

const B = (c: string) => c.repeat(128);

describe('parseManifest', () => {
  it('reads the DIST lines of a real thin Manifest', () => {
    const dists = parseManifest(readFileSync('test/fixtures/repos/gentoo/app-arch/xz-utils/Manifest'));
    expect(dists).toEqual([
      {
        name: 'xz-5.2.7.tar.gz',
        size: 2105803,
        BLAKE2B:
          '5363c5d0403e041c6d2e35b5d3321feeb8e63b8556496373c820975850b50e28e0da903446a49ba516fd9f40e0101dd39cfa9a9b8dd143c9849c84a715bb5d7b',
        SHA512:
          '06329fdbd1d897aa99dc96900c6246457288c586d02bb4869a92dd2f97973f95acb3a2fa9598a20613ea029f816836a8e3b65e36fec2b807b5e7553141429ab9',
      },
      {
        name: 'xz-5.2.7.tar.gz.sig',
        size: 566,
        BLAKE2B:
          '00702dff24d655ebf30f2bf8bee94406e002164408b9eabb4f461a789482584c2b9c90675b8d1d5e030913e674946aa7392b73fcedf6ac62e3b1e3bc05bf92e6',
        SHA512:
          '556e05107437fae2c75cc1a93465fce04426707e979403f41c6ee5b748fe7c3f985812a4e3b07785a84f68ef9d9f362ded470af1cceb9f4e8c80620a2699163f',
      },
    ]);
  });

  it('takes hash pairs in any order and ignores other tags', () => {
    const text = [
      'TIMESTAMP 2024-01-01T00:00:00Z',
      'EBUILD foo-1.ebuild 100 BLAKE2B aa SHA512 bb',
      `DIST a.tar.gz 10 SHA512 ${B('1')} BLAKE2B ${B('2')}`,
      'AUX foo.patch 5 BLAKE2B cc',
      'MISC metadata.xml 7 BLAKE2B dd',
      'MANIFEST files/Manifest 9 BLAKE2B ee',
      `DIST b.tar.gz 20 BLAKE2B ${B('3')} SHA256 abcd`,
    ].join('\n');
    expect(parseManifest(text)).toEqual([
      { name: 'a.tar.gz', size: 10, SHA512: B('1'), BLAKE2B: B('2') },
      { name: 'b.tar.gz', size: 20, BLAKE2B: B('3') },
    ]);
  });

  it('skips OpenPGP armour and the signature block', () => {
    const text = [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      'Hash: SHA512',
      '',
      `DIST signed-1.0.tar.xz 4242 BLAKE2B ${B('a')} SHA512 ${B('b')}`,
      '-----BEGIN PGP SIGNATURE-----',
      '',
      'iQIzBAEBCgAdFiEEDIST abcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGH',
      'DIST forged-in-signature.tar.gz 1 BLAKE2B 00',
      '=AbCd',
      '-----END PGP SIGNATURE-----',
      '',
    ].join('\r\n');
    expect(parseManifest(text)).toEqual([
      { name: 'signed-1.0.tar.xz', size: 4242, BLAKE2B: B('a'), SHA512: B('b') },
    ]);
  });

  it('skips DIST lines that do not parse', () => {
    const text = ['DIST no-size', 'DIST bad-size 12a BLAKE2B aa', 'DIST odd 12 BLAKE2B', 'DIST ok 0'].join(
      '\n',
    );
    expect(parseManifest(text)).toEqual([{ name: 'ok', size: 0 }]);
  });

  it('keeps the last of an algorithm given twice, drops digests that are not 64 bytes of hex, reads upper case', () => {
    const text = [
      `DIST twice 1 BLAKE2B ${B('1')} BLAKE2B ${B('2')}`,
      `DIST short 2 BLAKE2B ${'a'.repeat(126)} SHA512 ${B('C')}`,
      `DIST not-hex 3 BLAKE2B ${'g'.repeat(128)} SHA512 ${'0'.repeat(130)}`,
      `DIST  spaced   4  SHA512  ${B('e')}`,
    ].join('\n');
    expect(parseManifest(text)).toEqual([
      { name: 'twice', size: 1, BLAKE2B: B('2') },
      { name: 'short', size: 2, SHA512: B('c') },
      { name: 'not-hex', size: 3 },
      { name: 'spaced', size: 4, SHA512: B('e') },
    ]);
  });

  it('packs lines that grow (no digest) and a name past 255 bytes without overrunning', () => {
    const lines = Array.from({ length: 50 }, (_, i) => `DIST ${i} 0`);
    const long = 'n'.repeat(300);
    lines.push(`DIST ${long} 7 BLAKE2B ${B('f')}`);
    const dists = parseManifest(lines.join('\n'));
    expect(dists).toHaveLength(51);
    expect(dists[49]).toEqual({ name: '49', size: 0 });
    expect(dists[50]).toEqual({ name: long, size: 7, BLAKE2B: B('f') });
  });
});
