import { describe, expect, it } from 'vitest';
import { DistStore } from './dist-store.js';
import { type ManifestOwner, NO_RESTRICT, type PackageRecord, PerSource } from './distfile-records.js';
import { DistfileSnapshot } from './distfile-snapshot.js';
import type { RepositoryConfig } from './repos.js';
import { fileMapOf, type TestRow } from './testing/file-maps.js';

const repo = (name: string): RepositoryConfig => ({
  name,
  location: `/var/db/repos/${name}`,
  masters: [],
  mirrors: new Map(),
  hasMd5Cache: true,
});
const owner = (repoName: string, path: string): ManifestOwner => ({
  repo: repoName,
  category: path.split('/')[0],
  path,
});
const pkg = (repoName: string, cpv: string): PackageRecord => ({
  repo: repoName,
  category: cpv.split('/')[0],
  cpv,
  restrict: NO_RESTRICT,
});
const bytes = (c: string) => Buffer.alloc(64, c);
const hex = (c: string) => bytes(c).toString('hex');

const store = new DistStore();
const packDist = (size: number, blake2b?: Buffer, sha512?: Buffer) => store.add(size, blake2b, sha512);

function snapshot(...rows: TestRow[]): DistfileSnapshot {
  return new DistfileSnapshot(
    1,
    [repo('gentoo'), repo('guru'), repo('my-overlay')],
    fileMapOf(...rows),
    store,
  );
}

/** As FileRecord's fields were: name, sources, uris, owners, dists. */
function row(
  name: string,
  sources: TestRow['sources'],
  uris: TestRow['uris'],
  owners: TestRow['owners'],
  dists: TestRow['dists'],
): TestRow {
  return { name, sources, uris, owners, dists };
}

describe('DistfileSnapshot.lookup', () => {
  const tool = pkg('gentoo', 'app-misc/tool-1.0');

  it('gives agreeing Manifests one entry, with every repository that has the line', () => {
    const line = packDist(1000, bytes('a'), bytes('b'));
    const found = snapshot(
      row(
        'tool-1.0.tar.gz',
        tool,
        'https://e.org/tool-1.0.tar.gz',
        [owner('gentoo', 'app-misc/tool'), owner('guru', 'app-misc/tool')],
        line,
      ),
    ).lookup('tool-1.0.tar.gz');
    expect(found).toMatchObject({
      size: 1000,
      BLAKE2B: hex('a'),
      SHA512: hex('b'),
      verifiable: true,
      manifests: [{ repos: ['gentoo', 'guru'], size: 1000, BLAKE2B: hex('a'), SHA512: hex('b') }],
    });
    expect(found?.conflict).toBeUndefined();
  });

  it('keeps a file whose Manifests disagree verifiable, with both lines and the conflict explained', () => {
    const gentoo = packDist(1000, bytes('a'), bytes('b'));
    const overlay = packDist(1200, bytes('c'), undefined);
    const owners = [
      owner('gentoo', 'app-misc/tool'),
      owner('guru', 'app-misc/tool'),
      owner('my-overlay', 'app-misc/tool'),
    ];
    const found = snapshot(
      row('tool-1.0.tar.gz', tool, undefined, owners, new PerSource([gentoo, gentoo, overlay])),
    ).lookup('tool-1.0.tar.gz');
    expect(found).toEqual({
      name: 'tool-1.0.tar.gz',
      verifiable: true,
      conflict: `Manifests disagree about tool-1.0.tar.gz: gentoo::app-misc/tool says 1000 bytes BLAKE2B ${'61'.repeat(8)}… SHA512 ${'62'.repeat(8)}…; guru::app-misc/tool says 1000 bytes BLAKE2B ${'61'.repeat(8)}… SHA512 ${'62'.repeat(8)}…; my-overlay::app-misc/tool says 1200 bytes BLAKE2B ${'63'.repeat(8)}…`,
      manifests: [
        { repos: ['gentoo', 'guru'], size: 1000, BLAKE2B: hex('a'), SHA512: hex('b') },
        { repos: ['my-overlay'], size: 1200, BLAKE2B: hex('c') },
      ],
      sources: [{ repo: 'gentoo', cpv: 'app-misc/tool-1.0', uris: [], restrict: NO_RESTRICT }],
    });
  });

  it('is not verifiable by sizes alone, nor without any Manifest', () => {
    const found = snapshot(
      row(
        'a.tar.gz',
        undefined,
        undefined,
        [owner('gentoo', 'app-misc/a'), owner('guru', 'app-misc/a')],
        new PerSource([packDist(5, undefined, undefined), packDist(6, undefined, undefined)]),
      ),
      row('b.tar.gz', tool, 'https://e.org/b.tar.gz', undefined, undefined),
    );
    expect(found.lookup('a.tar.gz')).toMatchObject({
      verifiable: false,
      manifests: [
        { repos: ['gentoo'], size: 5 },
        { repos: ['guru'], size: 6 },
      ],
    });
    expect(found.lookup('b.tar.gz')).toMatchObject({ verifiable: false, manifests: [] });
  });
});
