import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheStore } from '../src/cache/cache-store.service.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { makeGitRemote } from '../src/repository/testing/git-remote.js';
import { fetchDistfile, wget } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { distLine } from './support/strict-http.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForCommit } from './support/wait.js';

const MB = 1024 * 1024;
const CLI_JS = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TOKEN = 'repository-test-token-0123456789';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Waits (bounded) until `check` holds. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (check()) return;
  throw new Error(`timed out waiting until ${what}`);
}

describe('repository index on the fill path', () => {
  let portcache: RunningPortcache | undefined;
  const servers: UpstreamServer[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function upstream(layout: 'hashed' | 'flat' = 'flat') {
    const server = await UpstreamServer.start(layout);
    servers.push(server);
    return server;
  }

  async function tempDir() {
    const dir = await mkdtemp(join(tmpdir(), 'portcache-repos-'));
    dirs.push(dir);
    return dir;
  }

  /** portcache over the given repositories, with the index built. */
  async function start(env: Record<string, string>) {
    portcache = await startPortcache({ PORTCACHE_ADMIN_TOKEN: TOKEN, ...env });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const url = (name: string) => `${portcache?.url}/distfiles/${name}`;

  /** The built `portcache` command against this server. */
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, PORTCACHE_URL: portcache?.url, PORTCACHE_ADMIN_TOKEN: TOKEN };
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_JS, ...args], { env }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  async function quarantined(): Promise<string[]> {
    const dir = join(portcache?.cacheDir ?? '', '.portcache', 'quarantine');
    const found: string[] = [];
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      found.push(...(await readdir(join(dir, entry))).filter((file) => file !== 'why'));
    }
    return found;
  }

  it('fetches an overlay file from its SRC_URI without asking the mirrors', async () => {
    const body = randomBytes(MB);
    const name = 'overlay-tool-1.0.tar.gz';
    const mirror = await upstream('hashed');
    const host = (await upstream()).add(name, body);
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/overlay-tool-1.0': `EAPI=8\nSRC_URI=${host.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/overlay-tool': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });

    const ready = (await (await request(`${portcache?.url}/health/ready`)).body.json()) as {
      details: { index: { built: boolean; distfiles: number; repositories: string[] } };
    };
    expect(ready.details.index).toMatchObject({ built: true, distfiles: 1, repositories: ['overlay'] });

    const head = await fetchDistfile(url(name), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(body.length));
    expect(host.requests).toHaveLength(0);

    const response = await fetchDistfile(url(name));
    expect(response.error).toBeUndefined();
    expect(sha(response.body)).toBe(sha(body));
    expect(host.requestsFor(name)).toHaveLength(1);
    expect(mirror.requestsFor(name)).toHaveLength(0);
    await waitForCommit(portcache as RunningPortcache, name);
  });

  it('lets wget with Portage flags fetch a verified miss from its SRC_URI', async () => {
    const body = randomBytes(3 * MB);
    const name = 'wget-verified-1.0.tar.xz';
    const host = (await upstream()).add(name, body, { rate: 6 * MB });
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/wget-verified-1.0': `EAPI=8\nSRC_URI=${host.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/wget-verified': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: (await upstream('hashed')).url, PORTCACHE_REPOS: repo });
    const output = join(await tempDir(), name);
    const fetched = await wget(url(name), output);
    expect(fetched.code).toBe(0);
    expect(sha(await readFile(output))).toBe(sha(body));
  });

  it('tries the mirrors first for a ::gentoo file, then its SRC_URI; mirror://gentoo goes to the mirrors', async () => {
    const onlyUpstream = randomBytes(300_000);
    const onMirror = randomBytes(200_000);
    const mirror = (await upstream('hashed')).add('viamirror-2.0.tar.xz', onMirror);
    const host = (await upstream()).add('gentoo-pkg-1.0.tar.gz', onlyUpstream);
    const repo = await writeRepo(join(await tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: {
        'dev-libs/gentoo-pkg-1.0': `EAPI=8\nSRC_URI=${host.url}/distfiles/gentoo-pkg-1.0.tar.gz\n`,
        'dev-libs/viamirror-2.0': 'EAPI=8\nSRC_URI=mirror://gentoo/viamirror-2.0.tar.xz\nRESTRICT=mirror\n',
      },
      manifests: {
        'dev-libs/gentoo-pkg': distLine('gentoo-pkg-1.0.tar.gz', onlyUpstream),
        'dev-libs/viamirror': distLine('viamirror-2.0.tar.xz', onMirror),
      },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });

    const first = await fetchDistfile(url('gentoo-pkg-1.0.tar.gz'));
    expect(sha(first.body)).toBe(sha(onlyUpstream));
    expect(mirror.requestsFor('gentoo-pkg-1.0.tar.gz')).toHaveLength(1);
    expect(host.requestsFor('gentoo-pkg-1.0.tar.gz')).toHaveLength(1);

    const second = await fetchDistfile(url('viamirror-2.0.tar.xz'));
    expect(sha(second.body)).toBe(sha(onMirror));
    // The mirror's GLEP 75 layout was used, not a flat URL.
    expect(mirror.requestsFor('viamirror-2.0.tar.xz')[0].url).toMatch(/^\/distfiles\/[0-9a-f]{2}\//);
  });

  it('catches wrong bytes by hash: aborts the clients, quarantines, and the next request gets the verified file', async () => {
    const good = randomBytes(2 * MB);
    const bad = Buffer.from(good);
    bad[MB] ^= 0xff;
    const name = 'tampered-1.0.tar.gz';
    const liar = (await upstream()).add(name, bad);
    const honest = (await upstream()).add(name, good);
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: {
        'app-misc/tampered-1.0': `EAPI=8\nSRC_URI=${liar.url}/distfiles/${name} ${honest.url}/distfiles/${name}\n`,
      },
      manifests: { 'app-misc/tampered': distLine(name, good) },
    });
    const mirror = await upstream('hashed');
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });

    const first = await fetchDistfile(url(name));
    expect(first.headers['content-length']).toBe(String(good.length));
    expect(first.error).toBeDefined();
    expect(first.body.length).toBeLessThan(good.length);

    const second = await fetchDistfile(url(name));
    expect(second.error).toBeUndefined();
    expect(sha(second.body)).toBe(sha(good));
    await waitForCommit(portcache as RunningPortcache, name);
    expect(await quarantined()).toEqual([name]);
    expect(liar.requestsFor(name)).toHaveLength(1);
    const metrics = await (await request(`${portcache?.url}/metrics`)).body.text();
    expect(metrics).toContain('portcache_verification_failures_total{where="fill"} 1');
    expect(metrics).toContain('portcache_fills_total{result="rejected"} 1');
  });

  it('holds back the last byte of a far-ahead Range until the whole file passed the Manifest', async () => {
    const body = randomBytes(4 * MB);
    const name = 'far-verified-1.0.tar.gz';
    const mirror = (await upstream('hashed')).add(name, body, { rate: 1_000_000 });
    const repo = await writeRepo(join(await tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'app-misc/far-verified-1.0': `EAPI=8\nSRC_URI=https://example.org/${name}\n` },
      manifests: { 'app-misc/far-verified': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo, PORTCACHE_STALL_TIMEOUT: '2s' });
    const first = fetchDistfile(url(name));
    await until('the fill started', () => mirror.requestsFor(name).length === 1);
    await sleep(200);
    const offset = body.length - 100_000;
    const response = await request(url(name), { headers: { range: `bytes=${offset}-` } });
    expect(response.statusCode).toBe(206);
    expect(mirror.requestsFor(name).map((r) => r.range)).toEqual([undefined, `bytes=${offset}-`]);
    let received = 0;
    let atAllButOne = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) {
      chunks.push(chunk as Buffer);
      received += (chunk as Buffer).length;
      if (received === 100_000 - 1) atAllButOne = Date.now();
    }
    const done = Date.now();
    expect(Buffer.concat(chunks).equals(body.subarray(offset))).toBe(true);
    expect(sha((await first).body)).toBe(sha(body));
    // The direct request had all but one byte long before the fill (1 MB/s) was verified.
    expect(atAllButOne).toBeGreaterThan(0);
    expect(done - atAllButOne).toBeGreaterThan(500);
  });

  it('serves a far-ahead Range of an overlay file from its SRC_URI host, not from the mirrors', async () => {
    const body = randomBytes(4 * MB);
    const name = 'far-overlay-1.0.tar.gz';
    const mirror = await upstream('hashed');
    const host = (await upstream()).add(name, body, { rate: 1_000_000 });
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/far-overlay-1.0': `EAPI=8\nSRC_URI=${host.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/far-overlay': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo, PORTCACHE_STALL_TIMEOUT: '2s' });
    const first = fetchDistfile(url(name));
    await until('the fill started', () => host.requestsFor(name).length === 1);
    await sleep(200);
    const offset = body.length - 100_000;
    const started = Date.now();
    const response = await fetchDistfile(url(name), { headers: { range: `bytes=${offset}-` } });
    expect(response.status).toBe(206);
    expect(response.body.equals(body.subarray(offset))).toBe(true);
    expect(host.requestsFor(name).map((r) => r.range)).toEqual([undefined, `bytes=${offset}-`]);
    expect(mirror.requestsFor(name)).toEqual([]);
    // Its last byte waited for the fill's verification, not its first ones for the fill to get there.
    expect(sha((await first).body)).toBe(sha(body));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('resumes on the next SRC_URI host with Range when one dies mid-body', async () => {
    const body = randomBytes(2 * MB);
    const name = 'flaky-host-1.0.tar.gz';
    const dying = (await upstream()).add(name, body, { resetAfter: 700_000 });
    const next = (await upstream()).add(name, body);
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: {
        'app-misc/flaky-host-1.0': `EAPI=8\nSRC_URI=${dying.url}/distfiles/${name} ${next.url}/distfiles/${name}\n`,
      },
      manifests: { 'app-misc/flaky-host': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: (await upstream('hashed')).url, PORTCACHE_REPOS: repo });
    const response = await fetchDistfile(url(name));
    expect(response.error).toBeUndefined();
    expect(sha(response.body)).toBe(sha(body));
    expect(next.requestsFor(name).map((r) => r.range)).toEqual(['bytes=700000-']);
  });

  it('rejects a source with the wrong size before any byte reaches a client', async () => {
    const good = randomBytes(MB);
    const name = 'resized-1.0.tar.gz';
    const wrong = (await upstream()).add(name, Buffer.concat([good, Buffer.from('extra')]));
    const right = (await upstream()).add(name, good);
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: {
        'app-misc/resized-1.0': `EAPI=8\nSRC_URI=${wrong.url}/distfiles/${name} ${right.url}/distfiles/${name}\n`,
      },
      manifests: { 'app-misc/resized': distLine(name, good) },
    });
    await start({ PORTCACHE_MIRRORS: (await upstream('hashed')).url, PORTCACHE_REPOS: repo });
    const response = await fetchDistfile(url(name));
    expect(response.error).toBeUndefined();
    expect(sha(response.body)).toBe(sha(good));
    expect(wrong.requestsFor(name)).toHaveLength(1);
    expect(right.requestsFor(name)).toHaveLength(1);
  });

  it('refuses a fetch-restricted file with a 404 that says to use portcache import, then serves an import', async () => {
    const body = randomBytes(100_000);
    const name = 'vendor-sdk-3.1.zip';
    const mirror = await upstream('hashed');
    const repo = await writeRepo(join(await tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'dev-util/vendor-sdk-3.1': `EAPI=8\nSRC_URI=${name}\nRESTRICT=fetch\n` },
      manifests: { 'dev-util/vendor-sdk': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });

    const refused = await request(url(name));
    const text = await refused.body.text();
    expect(refused.statusCode).toBe(404);
    expect(text).toContain('RESTRICT=fetch in dev-util/vendor-sdk-3.1::gentoo');
    expect(text).toContain(`portcache import ${name}`);
    const fetched = await wget(url(name), join(await tempDir(), name));
    expect(fetched.code).not.toBe(0);
    expect(fetched.stderr).toContain('portcache import');
    expect((await fetchDistfile(url(name), { method: 'HEAD' })).status).toBe(404);
    expect(mirror.requests).toHaveLength(0);

    const upload = (data: Buffer) =>
      request(`${portcache?.url}/api/v1/distfiles/${name}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
        body: data,
      });
    const wrong = await upload(randomBytes(100_000));
    expect(wrong.statusCode).toBe(422);
    expect(await wrong.body.text()).toContain('BLAKE2B does not match');
    const downloaded = join(await tempDir(), name);
    await writeFile(downloaded, body);
    const imported = await cli(['import', downloaded]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('"verified": true');
    const hit = await fetchDistfile(url(name));
    expect(sha(hit.body)).toBe(sha(body));

    const explained = (await (await request(`${portcache?.url}/api/v1/distfiles/${name}`)).body.json()) as {
      index: { size: number; packages: Array<{ restrict: string[] }> };
      cache: { cached: boolean; matchesIndex: boolean };
      refusal: string;
    };
    expect(explained.index.size).toBe(body.length);
    expect(explained.index.packages[0].restrict).toEqual(['fetch']);
    expect(explained.cache).toMatchObject({ cached: true, matchesIndex: true });
    expect(explained.refusal).toContain('portcache import');
    const resolved = await cli(['resolve', name]);
    expect(resolved.stdout).toContain('package: dev-util/vendor-sdk-3.1::gentoo RESTRICT=fetch');
    expect(resolved.stdout).toContain(`cached: ${body.length} bytes, matches the Manifest`);
  });

  it('re-fetches a cached file whose Manifest entry changed, and quarantines the old copy', async () => {
    const v1 = randomBytes(200_000);
    const v2 = randomBytes(210_000);
    const name = 'rereleased-1.0.tar.gz';
    const host = (await upstream()).add(name, v1);
    const spec = (body: Buffer) => ({
      name: 'overlay',
      entries: { 'app-misc/rereleased-1.0': `EAPI=8\nSRC_URI=${host.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/rereleased': distLine(name, body) },
    });
    const repo = await writeRepo(join(await tempDir(), 'overlay'), spec(v1));
    await start({ PORTCACHE_MIRRORS: (await upstream('hashed')).url, PORTCACHE_REPOS: repo });
    expect(sha((await fetchDistfile(url(name))).body)).toBe(sha(v1));
    await waitForCommit(portcache as RunningPortcache, name);

    host.add(name, v2);
    await writeFile(join(repo, 'app-misc/rereleased/Manifest'), distLine(name, v2));
    await portcache?.app.get(SrcUriResolver).refresh({ deep: true });
    // The re-check after the refresh finds it without a request.
    const store = portcache?.app.get(CacheStore) as CacheStore;
    await until('the stale copy is quarantined', () => store.get(name) === undefined);
    const again = await fetchDistfile(url(name));
    expect(sha(again.body)).toBe(sha(v2));
    expect(host.requestsFor(name)).toHaveLength(2);
    expect(await quarantined()).toEqual([name]);
  });

  it('sees a changed md5-cache entry after a refresh and serves requests meanwhile', async () => {
    const body = randomBytes(50_000);
    const name = 'moved-1.0.tar.gz';
    const oldHost = (await upstream()).add(name, body);
    const newHost = (await upstream()).add(name, body);
    const repo = await writeRepo(join(await tempDir(), 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/moved-1.0': `EAPI=8\nSRC_URI=${oldHost.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/moved': distLine(name, body) },
    });
    await start({ PORTCACHE_MIRRORS: (await upstream('hashed')).url, PORTCACHE_REPOS: repo });
    const resolver = portcache?.app.get(SrcUriResolver) as SrcUriResolver;
    const entryPath = join(repo, 'metadata/md5-cache/app-misc/moved-1.0');
    await writeFile(entryPath, (await readFile(entryPath, 'utf8')).replace(oldHost.url, newHost.url));
    const refreshing = resolver.refresh();
    const during = await fetchDistfile(`${portcache?.url}/distfiles/layout.conf`);
    expect(during.status).toBe(200);
    await refreshing;
    expect(resolver.lookup(name)?.sources[0].uris[0].url).toBe(`${newHost.url}/distfiles/${name}`);
    expect(sha((await fetchDistfile(url(name))).body)).toBe(sha(body));
    expect(oldHost.requests).toHaveLength(0);
    expect(newHost.requestsFor(name)).toHaveLength(1);
  });

  it('syncs a git repository: a new commit appears in the index, a broken remote keeps the old index', async () => {
    const root = await tempDir();
    const { url: remote, push } = await makeGitRemote(root, 'myrepo', 'remote');
    const one = randomBytes(1000);
    const two = randomBytes(2000);
    await push({
      'profiles/repo_name': 'myrepo\n',
      'metadata/layout.conf': 'masters = \n',
      'metadata/md5-cache/app-misc/one-1': 'EAPI=8\nSRC_URI=https://one.example/one-1.tar.gz\n',
      'app-misc/one/Manifest': distLine('one-1.tar.gz', one),
    });
    await start({
      PORTCACHE_MIRRORS: (await upstream('hashed')).url,
      PORTCACHE_DATA_DIR: join(root, 'data'),
      PORTCACHE_SYNC_REPOS: remote,
      PORTCACHE_SYNC_INTERVAL: '300ms',
    });
    const resolver = portcache?.app.get(SrcUriResolver) as SrcUriResolver;
    await until('the clone is indexed', () => resolver.lookup('one-1.tar.gz')?.size === one.length);

    await push({
      'metadata/md5-cache/app-misc/two-1': 'EAPI=8\nSRC_URI=https://two.example/two-1.tar.gz\n',
      'app-misc/two/Manifest': distLine('two-1.tar.gz', two),
    });
    await until('the new commit is indexed', () => resolver.lookup('two-1.tar.gz')?.size === two.length);

    await rename(remote, `${remote}.gone`);
    const generation = resolver.snapshot?.generation;
    await sleep(1000);
    expect(resolver.snapshot?.generation).toBe(generation);
    expect(resolver.lookup('one-1.tar.gz')?.size).toBe(one.length);
    expect(resolver.lookup('two-1.tar.gz')?.sources[0].uris[0].url).toBe('https://two.example/two-1.tar.gz');
  });
});
