import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverRepositories, parseReposConf, type RepositoryDiscoveryOptions } from './repos.js';

let root: string;
let warnings: string[];
const logger = { log: () => {}, warn: (message: string) => warnings.push(message) };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'portcache-repos-'));
  warnings = [];
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function makeRepo(
  dir: string,
  files: { name?: string; layout?: string; mirrors?: string; md5Cache?: boolean } = {},
): Promise<string> {
  const location = join(root, dir);
  await mkdir(join(location, 'profiles'), { recursive: true });
  await mkdir(join(location, 'metadata'), { recursive: true });
  if (files.name !== undefined) await writeFile(join(location, 'profiles/repo_name'), `${files.name}\n`);
  if (files.layout !== undefined) await writeFile(join(location, 'metadata/layout.conf'), files.layout);
  if (files.mirrors !== undefined)
    await writeFile(join(location, 'profiles/thirdpartymirrors'), files.mirrors);
  if (files.md5Cache !== false) await mkdir(join(location, 'metadata/md5-cache'));
  return location;
}

/** Discovery options with nothing of the host's /etc, /usr or /var in the way. */
function isolated(options: RepositoryDiscoveryOptions): RepositoryDiscoveryOptions {
  return {
    reposConf: join(root, 'no-repos.conf'),
    portageReposConf: join(root, 'no-defaults.conf'),
    reposDir: join(root, 'no-repos-dir'),
    ...options,
  };
}

describe('discoverRepositories', () => {
  it('uses the explicit paths, reads name, masters and stacked mirrors', async () => {
    const gentoo = await makeRepo('gentoo', {
      name: 'gentoo',
      layout: 'masters =\n',
      mirrors: 'gnu https://ftp.gnu.org/gnu/\n',
    });
    const overlay = await makeRepo('my-overlay', {
      name: 'mine',
      layout: '# comment\nmasters = gentoo\nthin-manifests = true\n',
      mirrors: 'gnu https://gnu.example/\nown https://own.example\n',
    });
    const repos = await discoverRepositories(isolated({ paths: [gentoo, overlay] }), logger);
    expect(
      repos.map(({ name, location, masters, hasMd5Cache }) => ({ name, location, masters, hasMd5Cache })),
    ).toEqual([
      { name: 'gentoo', location: gentoo, masters: [], hasMd5Cache: true },
      { name: 'mine', location: overlay, masters: ['gentoo'], hasMd5Cache: true },
    ]);
    expect(repos[1].mirrors).toEqual(
      new Map([
        ['gnu', ['https://ftp.gnu.org/gnu/', 'https://gnu.example/']],
        ['own', ['https://own.example']],
      ]),
    );
    expect(warnings).toEqual([]);
  });

  it('warns about a missing path, a repository without md5-cache, a missing repo_name and an unknown master', async () => {
    const bare = await makeRepo('bare-overlay', { layout: 'masters = gentoo\n', md5Cache: false });
    const missing = join(root, 'nowhere');
    const repos = await discoverRepositories(isolated({ paths: [missing, bare] }), logger);
    expect(repos.map((repo) => [repo.name, repo.hasMd5Cache])).toEqual([['bare-overlay', false]]);
    expect(warnings).toEqual([
      `repository ${missing} (PORTCACHE_REPOS): ${missing} is not a directory; fix the path or remove it`,
      `repository at ${bare} has no profiles/repo_name: using the name bare-overlay`,
      `repository bare-overlay (${bare}) has no metadata/md5-cache, so portcache knows none of its SRC_URIs: run \`egencache --update --repo bare-overlay\` after each sync (or sync it from a mirror that carries the cache)`,
      'repository bare-overlay lists master gentoo, which was not found: mirror:// names defined only there cannot be expanded; add gentoo to repos.conf or PORTCACHE_REPOS',
    ]);
  });

  it('reads a repos.conf file, over Portage defaults, skipping DEFAULT', async () => {
    const gentoo = await makeRepo('gentoo', { name: 'gentoo' });
    const guru = await makeRepo('guru', { name: 'guru', layout: 'masters = gentoo\n' });
    await writeFile(
      join(root, 'defaults.conf'),
      `[DEFAULT]\nmain-repo = gentoo\n\n[gentoo]\nlocation = ${join(root, 'elsewhere')}\n`,
    );
    await writeFile(
      join(root, 'repos.conf'),
      `; eselect repository\n[gentoo]\nlocation = ${gentoo}\n\n[guru]\nlocation: ${guru}\nsync-type = git\n[nolocation]\nsync-uri = x\n`,
    );
    const repos = await discoverRepositories(
      isolated({ reposConf: join(root, 'repos.conf'), portageReposConf: join(root, 'defaults.conf') }),
      logger,
    );
    expect(repos.map((repo) => [repo.name, repo.location])).toEqual([
      ['gentoo', gentoo],
      ['guru', guru],
    ]);
    expect(warnings).toEqual([`${join(root, 'repos.conf')} [nolocation] has no location: skipped`]);
  });

  it('reads a repos.conf directory, and masters from it override layout.conf', async () => {
    const gentoo = await makeRepo('gentoo', { name: 'gentoo' });
    const guru = await makeRepo('guru', { name: 'guru', layout: 'masters = gentoo\n' });
    await mkdir(join(root, 'repos.conf'));
    await writeFile(join(root, 'repos.conf/gentoo.conf'), `[gentoo]\nlocation = ${gentoo}\n`);
    await writeFile(join(root, 'repos.conf/eselect-repo.conf'), `[guru]\nlocation = ${guru}\nmasters =\n`);
    await writeFile(join(root, 'repos.conf/guru.conf~'), '[broken]\nlocation = /nope\n');
    const repos = await discoverRepositories(isolated({ reposConf: join(root, 'repos.conf') }), logger);
    expect(repos.map((repo) => [repo.name, repo.masters])).toEqual([
      ['guru', []],
      ['gentoo', []],
    ]);
    expect(warnings).toEqual([]);
  });

  it('falls back to every directory under /var/db/repos', async () => {
    await makeRepo('repos/gentoo', { name: 'gentoo' });
    await makeRepo('repos/guru', { name: 'guru' });
    await writeFile(join(root, 'repos/README'), 'not a repository');
    const repos = await discoverRepositories(isolated({ reposDir: join(root, 'repos') }), logger);
    expect(repos.map((repo) => [repo.name, repo.location])).toEqual([
      ['gentoo', join(root, 'repos/gentoo')],
      ['guru', join(root, 'repos/guru')],
    ]);
  });

  it('says so when there is nothing at all', async () => {
    expect(await discoverRepositories(isolated({}), logger)).toEqual([]);
    expect(warnings).toEqual([
      `no repos.conf and no ${join(root, 'no-repos-dir')}: no repository to index; set PORTCACHE_REPOS or PORTCACHE_SYNC_REPOS`,
    ]);
  });

  it('reads the fixture repositories', async () => {
    const paths = ['test/fixtures/repos/gentoo', 'test/fixtures/repos/guru'];
    const repos = await discoverRepositories(isolated({ paths }), logger);
    expect(repos.map((repo) => [repo.name, repo.location, repo.masters])).toEqual([
      ['gentoo', resolve(paths[0]), []],
      ['guru', resolve(paths[1]), ['gentoo']],
    ]);
    expect(repos[1].mirrors.get('openbsd')).toEqual(['https://mirrors.evowise.com/pub/OpenBSD/']);
  });
});

describe('parseReposConf', () => {
  it('reads sections and keys as configparser does', () => {
    expect(
      parseReposConf('# c\n[a]\nLocation = /x\nmasters:  g  h \n\n[b]\nlocation=/y\n[a]\npriority = 1\n'),
    ).toEqual(
      new Map([
        ['a', { location: '/x', masters: 'g  h', priority: '1' }],
        ['b', { location: '/y' }],
      ]),
    );
  });
});
