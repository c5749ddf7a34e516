import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RepositorySync } from './repository-sync.js';
import { makeGitRemote } from './testing/git-remote.js';

let root: string;
let dataDir: string;
let warnings: string[];
const logger = { log: () => {}, warn: (message: string) => warnings.push(message) };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'portcache-sync-'));
  dataDir = join(root, 'data');
  warnings = [];
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A bare "remote" repository under the test's root and a function that pushes a commit to it. */
const makeRemote = (name = 'gentoo', parent = 'remotes') => makeGitRemote(root, name, parent);

const read = (path: string) => readFile(path, 'utf8');
const checkouts = (name: string) => readdir(join(dataDir, 'checkouts', name));

describe('RepositorySync', () => {
  it('clones on the first sync, then reports nothing while the remote does not change', async () => {
    const remote = await makeRemote();
    const first = await remote.push({
      'profiles/repo_name': 'gentoo\n',
      'metadata/md5-cache/cat/pkg-1': 'EAPI=8\nSRC_URI=https://example.org/pkg-1.tar.gz\n',
    });
    const sync = new RepositorySync({ dataDir, urls: [remote.url], logger });
    const [repo] = sync.repositories;
    expect(repo).toEqual({ url: remote.url, name: 'gentoo', path: join(dataDir, 'repos', 'gentoo') });

    // A second call while the first runs joins it.
    const [a, b] = await Promise.all([sync.syncAll(), sync.syncAll()]);
    expect(a).toEqual(['gentoo']);
    expect(b).toBe(a);
    expect((await lstat(repo.path)).isSymbolicLink()).toBe(true);
    expect(await realpath(repo.path)).toBe(await realpath(join(dataDir, 'checkouts', 'gentoo', first)));
    expect(await read(join(repo.path, 'profiles/repo_name'))).toBe('gentoo\n');
    expect(await read(join(repo.path, 'metadata/md5-cache/cat/pkg-1'))).toContain('SRC_URI=');
    expect(await readdir(repo.path)).not.toContain('.git');

    expect(await sync.syncAll()).toEqual([]);
    expect(await checkouts('gentoo')).toEqual([first]);
    expect(warnings).toEqual([]);
  });

  it('swaps to a new commit, keeps the previous checkout one round, deletes older ones', async () => {
    const remote = await makeRemote();
    const first = await remote.push({ 'metadata/md5-cache/cat/pkg-1': 'one\n' });
    const sync = new RepositorySync({ dataDir, urls: [remote.url], logger });
    const path = sync.repositories[0].path;
    await sync.syncAll();
    const reader = await realpath(path); // a reader that resolved the stable path before the swap

    const second = await remote.push({ 'metadata/md5-cache/cat/pkg-1': 'two\n' });
    expect(await sync.syncAll()).toEqual(['gentoo']);
    expect(await read(join(path, 'metadata/md5-cache/cat/pkg-1'))).toBe('two\n');
    expect(await read(join(reader, 'metadata/md5-cache/cat/pkg-1'))).toBe('one\n');
    expect((await checkouts('gentoo')).sort()).toEqual([first, second].sort());

    const third = await remote.push({ 'metadata/md5-cache/cat/pkg-2': 'three\n' });
    expect(await sync.syncAll()).toEqual(['gentoo']);
    expect(await read(join(path, 'metadata/md5-cache/cat/pkg-2'))).toBe('three\n');
    expect((await checkouts('gentoo')).sort()).toEqual([second, third].sort());
    expect(warnings).toEqual([]);
  });

  it('keeps the old checkout and warns when the remote is broken', async () => {
    const remote = await makeRemote();
    await remote.push({ 'profiles/repo_name': 'gentoo\n' });
    const sync = new RepositorySync({ dataDir, urls: [remote.url], logger });
    const path = sync.repositories[0].path;
    await sync.syncAll();

    await rename(remote.url, `${remote.url}.gone`);
    expect(await sync.syncAll()).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(remote.url);
    expect(warnings[0]).toMatch(/fatal: .*does not appear to be a git repository/);
    expect(await read(join(path, 'profiles/repo_name'))).toBe('gentoo\n');

    await rename(`${remote.url}.gone`, remote.url);
    await remote.push({ 'profiles/repo_name': 'back\n' });
    expect(await sync.syncAll()).toEqual(['gentoo']);
    expect(await read(join(path, 'profiles/repo_name'))).toBe('back\n');
  });

  it('cleans leftovers of an interrupted run', async () => {
    const remote = await makeRemote();
    await remote.push({ 'profiles/repo_name': 'gentoo\n' });
    const sync = new RepositorySync({ dataDir, urls: [remote.url], logger });
    await sync.syncAll();

    const halfMade = join(dataDir, 'checkouts', 'gentoo', `${'a'.repeat(40)}.tmp`);
    await mkdir(join(halfMade, 'profiles'), { recursive: true });
    await symlink('../checkouts/gentoo/nowhere', join(dataDir, 'repos', '.gentoo.tmp'));
    await writeFile(join(dataDir, 'git', 'gentoo.git', 'shallow.lock'), ''); // git killed mid-fetch
    const next = await remote.push({ 'profiles/repo_name': 'next\n' });

    expect(await sync.syncAll()).toEqual(['gentoo']);
    expect(warnings).toEqual([]);
    expect(await read(join(sync.repositories[0].path, 'profiles/repo_name'))).toBe('next\n');
    expect(await checkouts('gentoo')).not.toContain(`${'a'.repeat(40)}.tmp`);
    expect(await checkouts('gentoo')).toContain(next);
    expect(await readdir(join(dataDir, 'repos'))).toEqual(['gentoo']);
  });

  it('leaves a real directory at the stable path alone', async () => {
    const remote = await makeRemote();
    await remote.push({ 'profiles/repo_name': 'gentoo\n' });
    const sync = new RepositorySync({ dataDir, urls: [remote.url], logger });
    const path = sync.repositories[0].path;
    await mkdir(join(path, 'profiles'), { recursive: true });
    await writeFile(join(path, 'profiles/repo_name'), 'mine\n');

    expect(await sync.syncAll()).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(path);
    expect(await read(join(path, 'profiles/repo_name'))).toBe('mine\n');
    expect((await lstat(path)).isDirectory()).toBe(true);
  });

  it('syncs several repositories and gives duplicate names a suffix', async () => {
    const one = await makeRemote('guru');
    const two = await makeRemote('guru', 'elsewhere');
    await one.push({ 'profiles/repo_name': 'guru\n' });
    await two.push({ 'profiles/repo_name': 'other\n' });

    const sync = new RepositorySync({ dataDir, urls: [one.url, `${two.url}/`], logger });
    expect(sync.repositories.map((repo) => repo.name)).toEqual(['guru', 'guru-2']);
    expect((await sync.syncAll()).sort()).toEqual(['guru', 'guru-2']);
    expect(await read(join(dataDir, 'repos/guru/profiles/repo_name'))).toBe('guru\n');
    expect(await read(join(dataDir, 'repos/guru-2/profiles/repo_name'))).toBe('other\n');
  });

  it('derives safe names from URLs', () => {
    const sync = new RepositorySync({
      dataDir,
      urls: [
        'https://github.com/gentoo-mirror/gentoo.git',
        'https://github.com/gentoo-mirror/gentoo',
        'git@example.org:overlays/my overlay.git',
        'https://example.org/..git',
        'https://example.org/x/gentoo-2.git',
      ],
      logger,
    });
    expect(sync.repositories.map((repo) => repo.name)).toEqual([
      'gentoo',
      'gentoo-2',
      'my-overlay',
      'repo',
      'gentoo-2-2',
    ]);
  });

  it('rejects a URL that looks like an option', () => {
    expect(() => new RepositorySync({ dataDir, urls: ['--upload-pack=touch /tmp/pwned'], logger })).toThrow(
      /looks like a command-line option/,
    );
  });

  it('kills a git command that exceeds the timeout', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    try {
      const url = `git://127.0.0.1:${port}/silent.git`;
      const sync = new RepositorySync({ dataDir, urls: [url], logger, timeoutMs: 500 });
      expect(await sync.syncAll()).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining(`${url} failed: git timed out after 0.5 s`)]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    }
  });
});
