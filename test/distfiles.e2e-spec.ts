import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../src/common/layout.js';
import { fetchDistfile, rawGet, wget } from './support/http-client.js';
import { makeTempDir, type RunningPortcache, startPortcache } from './support/portcache.js';
import { UpstreamServer } from './support/upstream-server.js';
import { emptiedDir, waitForCommit } from './support/wait.js';

const HASHED = randomBytes(300_000);
const FLAT_ONLY = randomBytes(150_000);
const PLUS = randomBytes(5000);
const BIG = randomBytes(1_500_000);

describe('distfiles: hits, misses and the mirror protocol', () => {
  let hashed: UpstreamServer;
  let flat: UpstreamServer;
  let portcache: RunningPortcache;

  beforeAll(async () => {
    hashed = await UpstreamServer.start('hashed');
    flat = await UpstreamServer.start('flat');
    hashed.add('hashed-1.0.tar.gz', HASHED).add('gtk+-2.24.33.tar.xz', PLUS).add('big-1.0.tar.xz', BIG);
    flat.add('flat-only-1.0.tar.gz', FLAT_ONLY);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${hashed.url} ${flat.url}` });
  });

  afterAll(async () => {
    await portcache.close();
    await hashed.close();
    await flat.close();
  });

  it('serves layout.conf for GET and HEAD', async () => {
    const get = await fetchDistfile(`${portcache.url}/distfiles/layout.conf`);
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toMatch(/^text\/plain/);
    expect(get.body.toString()).toBe('[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n');
    const head = await fetchDistfile(`${portcache.url}/distfiles/layout.conf`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('fills a miss from a hashed mirror once, then serves hashed and flat requests from the cache', async () => {
    const name = 'hashed-1.0.tar.gz';
    const first = await fetchDistfile(`${portcache.url}/distfiles/${blake2bPrefix(name)}/${name}`);
    expect(first.status).toBe(200);
    expect(first.headers['content-length']).toBe(String(HASHED.length));
    expect(first.body.equals(HASHED)).toBe(true);
    await waitForCommit(portcache, name);

    const viaFlat = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    const viaHash = await fetchDistfile(`${portcache.url}/distfiles/${blake2bPrefix(name)}/${name}`);
    expect(viaFlat.body.equals(HASHED)).toBe(true);
    expect(viaHash.body.equals(viaFlat.body)).toBe(true);
    expect(viaHash.headers.etag).toBeDefined();
    expect(viaHash.headers['last-modified']).toBe('Tue, 01 Oct 2024 10:00:00 GMT');
    expect(viaHash.headers['accept-ranges']).toBe('bytes');
    expect(viaHash.headers['content-type']).toBe('application/octet-stream');

    const upstreamRequests = hashed.requestsFor(name);
    expect(upstreamRequests).toHaveLength(1);
    expect(upstreamRequests[0].acceptEncoding).toBeUndefined();
    const committed = await readFile(join(portcache.cacheDir, blake2bPrefix(name), name));
    expect(committed.equals(HASHED)).toBe(true);
  });

  it('falls back to the flat mirror when the hashed one lacks the file', async () => {
    const name = 'flat-only-1.0.tar.gz';
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.status).toBe(200);
    expect(response.body.equals(FLAT_ONLY)).toBe(true);
    expect(hashed.requestsFor(name)).toHaveLength(1);
    expect(flat.requestsFor(name)).toHaveLength(1);
    expect(flat.requests.some((r) => r.url === '/distfiles/layout.conf')).toBe(true);
  });

  it('decodes a percent-encoded name exactly once (gtk+ as Portage requests it)', async () => {
    const response = await fetchDistfile(`${portcache.url}/distfiles/f5/gtk%2B-2.24.33.tar.xz`);
    expect(response.status).toBe(200);
    expect(response.body.equals(PLUS)).toBe(true);
    expect(hashed.requestsFor('gtk+-2.24.33.tar.xz')).toHaveLength(1);
  });

  it('downloads and resumes with wget as Portage runs it', async () => {
    const dir = await makeTempDir();
    const name = 'big-1.0.tar.xz';
    const url = `${portcache.url}/distfiles/${blake2bPrefix(name)}/${name}`;
    const target = join(dir, name);
    expect((await wget(url, target)).code).toBe(0);
    expect((await readFile(target)).equals(BIG)).toBe(true);

    await writeFile(target, BIG.subarray(0, 400_000));
    const resumed = await wget(url, target, true);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/206 Partial Content/);
    expect((await readFile(target)).equals(BIG)).toBe(true);
    await rm(dir, { recursive: true });
  });

  it('answers Range, If-Range, 304 and 416 on a hit', async () => {
    const name = 'hashed-1.0.tar.gz';
    const url = `${portcache.url}/distfiles/${name}`;
    const full = await fetchDistfile(url);
    const etag = full.headers.etag as string;

    const part = await fetchDistfile(url, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-1999/${HASHED.length}`);
    expect(part.body.equals(HASHED.subarray(1000, 2000))).toBe(true);

    const stale = await fetchDistfile(url, { headers: { range: 'bytes=1000-', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(HASHED.length);
    const current = await fetchDistfile(url, { headers: { range: 'bytes=1000-', 'if-range': etag } });
    expect(current.status).toBe(206);

    expect((await fetchDistfile(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const since = full.headers['last-modified'] as string;
    expect((await fetchDistfile(url, { headers: { 'if-modified-since': since } })).status).toBe(304);

    const beyond = await fetchDistfile(url, { headers: { range: `bytes=${HASHED.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${HASHED.length}`);
  });

  it('serves a hit only under its own hashed directory, and with a query string too', async () => {
    const name = 'hashed-1.0.tar.gz';
    const wrong = blake2bPrefix(name) === '00' ? '01' : '00';
    const misplaced = await fetchDistfile(`${portcache.url}/distfiles/${wrong}/${name}`);
    expect(misplaced.status).toBe(404);
    expect(misplaced.body.toString()).toContain(`belongs in ${blake2bPrefix(name)}/`);
    const query = await fetchDistfile(`${portcache.url}/distfiles/${blake2bPrefix(name)}/${name}?x=1`);
    expect(query.status).toBe(200);
    expect(query.body.equals(HASHED)).toBe(true);
  });

  it('answers HEAD from disk on a hit and with 404 on a miss, never asking upstream', async () => {
    const hit = await fetchDistfile(`${portcache.url}/distfiles/hashed-1.0.tar.gz`, { method: 'HEAD' });
    expect(hit.status).toBe(200);
    expect(hit.headers['content-length']).toBe(String(HASHED.length));
    expect(hit.body.length).toBe(0);

    const before = hashed.requests.length + flat.requests.length;
    const miss = await fetchDistfile(`${portcache.url}/distfiles/never-fetched-1.0.tar.gz`, {
      method: 'HEAD',
    });
    expect(miss.status).toBe(404);
    expect(hashed.requests.length + flat.requests.length).toBe(before);
  });

  it.each([
    ['..%2F..%2Fetc%2Fpasswd', 400],
    ['%2e%2e', 400],
    ['.', 400],
    ['evil%00.tar.gz', 400],
    ['..%5C..%5Cwindows', 400],
    ['%01ctrl', 400],
    [`${'a'.repeat(256)}.tar.gz`, 400],
    ['..%252F..%252Fetc%252Fpasswd', 404],
    ['00/which-2.23.tar.gz', 404],
    ['zz/which-2.23.tar.gz', 404],
    ['ab/..%2F..%2Fetc%2Fpasswd', 400],
  ])('refuses /distfiles/%s with %i and creates nothing outside the cache', async (path, status) => {
    const parent = dirname(portcache.cacheDir);
    const before = await readdir(parent);
    const response = await rawGet(portcache.url, `/distfiles/${path}`);
    expect(response.status).toBe(status);
    expect(response.body).toMatch(/Invalid distfile name|not found|belongs in|not a filename-hash/i);
    expect(await readdir(parent)).toEqual(before);
    expect(existsSync('/etc/passwd.__download__')).toBe(false);
  });

  it('answers 404 saying which mirrors were tried when none has the file', async () => {
    const response = await fetchDistfile(`${portcache.url}/distfiles/nowhere-1.0.tar.gz`);
    expect(response.status).toBe(404);
    const text = response.body.toString();
    expect(text).toContain(new URL(hashed.url).host);
    expect(text).toContain(new URL(flat.url).host);
    // The temporary file opened for the fill while the mirrors were asked is gone again.
    expect(await emptiedDir(join(portcache.cacheDir, '.portcache', 'tmp'))).toEqual([]);
  });
});

describe('distfiles: failing upstreams', () => {
  const upstreams: UpstreamServer[] = [];
  let portcache: RunningPortcache | undefined;

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    for (const upstream of upstreams.splice(0)) await upstream.close();
  });

  it('skips a mirror that is down and one that answers 404', async () => {
    const good = await UpstreamServer.start('hashed');
    const empty = await UpstreamServer.start('hashed');
    upstreams.push(good, empty);
    good.add('second-1.0.tar.gz', HASHED);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `http://127.0.0.1:1 ${empty.url} ${good.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/second-1.0.tar.gz`);
    expect(response.status).toBe(200);
    expect(response.body.equals(HASHED)).toBe(true);
    expect(empty.requestsFor('second-1.0.tar.gz')).toHaveLength(1);
  });

  it('answers 404 within the connect timeout when every mirror is unreachable', async () => {
    const silent = await unansweredPort();
    try {
      portcache = await startPortcache({
        PORTCACHE_MIRRORS: `http://127.0.0.1:1 http://127.0.0.1:${silent.port}`,
        PORTCACHE_CONNECT_TIMEOUT: '1s',
      });
      const started = Date.now();
      const response = await fetchDistfile(`${portcache.url}/distfiles/x-1.0.tar.gz`);
      expect(response.status).toBe(404);
      expect(Date.now() - started).toBeLessThan(2500);
      expect(response.body.toString()).toMatch(
        new RegExp(`127\\.0\\.0\\.1:1: connection refused; 127\\.0\\.0\\.1:${silent.port}: connect timeout`),
      );
    } finally {
      silent.close();
    }
  });

  it('truncates the client and commits nothing when the upstream dies mid-body', async () => {
    const dying = await UpstreamServer.start('hashed');
    upstreams.push(dying);
    dying.add('dying-1.0.tar.gz', BIG, { resetAfter: 600_000 });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: dying.url });
    const response = await fetchDistfile(`${portcache.url}/distfiles/dying-1.0.tar.gz`);
    expect(response.status).toBe(200);
    expect(response.error).toBeDefined();
    expect(response.body.length).toBeLessThan(BIG.length);
    expect(existsSync(join(portcache.cacheDir, blake2bPrefix('dying-1.0.tar.gz'), 'dying-1.0.tar.gz'))).toBe(
      false,
    );
    expect(await readdir(join(portcache.cacheDir, '.portcache', 'tmp'))).toEqual([]);
  });

  it('sweeps temporary files left by a crash and never serves them', async () => {
    const cacheDir = await makeTempDir();
    const tmpDir = join(cacheDir, '.portcache', 'tmp');
    await mkdir(tmpDir, { recursive: true });
    await writeFile(join(tmpDir, 'deadbeef.part'), BIG.subarray(0, 1000));
    const upstream = await UpstreamServer.start('hashed');
    upstreams.push(upstream);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: upstream.url }, { cacheDir });
    expect(await readdir(tmpDir)).toEqual([]);
    expect((await fetchDistfile(`${portcache.url}/distfiles/deadbeef.part`)).status).toBe(404);
  });
});

describe('admin API', () => {
  let upstream: UpstreamServer;
  afterAll(async () => upstream?.close());

  it('refuses changes without a configured token, and without the right one', async () => {
    upstream = await UpstreamServer.start('hashed');
    upstream.add('admin-1.0.tar.gz', PLUS);
    const open = await startPortcache({ PORTCACHE_MIRRORS: upstream.url });
    const disabled = await fetchDistfile(`${open.url}/api/v1/distfiles/admin-1.0.tar.gz`, {
      method: 'DELETE',
    });
    expect(disabled.status).toBe(403);
    expect(disabled.body.toString()).toContain('PORTCACHE_ADMIN_TOKEN');
    await open.close();

    const token = 'correct-horse-battery-staple';
    const guarded = await startPortcache({ PORTCACHE_MIRRORS: upstream.url, PORTCACHE_ADMIN_TOKEN: token });
    const url = `${guarded.url}/api/v1/distfiles/admin-1.0.tar.gz`;
    expect((await fetchDistfile(`${guarded.url}/distfiles/admin-1.0.tar.gz`)).status).toBe(200);
    await waitForCommit(guarded, 'admin-1.0.tar.gz');
    expect((await fetchDistfile(url, { method: 'DELETE' })).status).toBe(401);
    const wrong = { authorization: 'Bearer wrong-token-wrong-token' };
    expect((await fetchDistfile(url, { method: 'DELETE', headers: wrong })).status).toBe(401);
    const right = { authorization: `Bearer ${token}` };
    expect((await fetchDistfile(url, { method: 'DELETE', headers: right })).status).toBe(200);
    expect((await fetchDistfile(url, { method: 'DELETE', headers: right })).status).toBe(404);
    expect(existsSync(join(guarded.cacheDir, blake2bPrefix('admin-1.0.tar.gz'), 'admin-1.0.tar.gz'))).toBe(
      false,
    );
    await guarded.close();
  });
});

/**
 * A loopback port whose connects time out: a listener (python, since Node accepts every
 * connection itself) with a backlog of 0 that never accepts, its queue filled first, so the
 * kernel drops further SYNs.
 */
async function unansweredPort(): Promise<{ port: number; close(): void }> {
  const child = spawn('python3', [
    '-c',
    'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)',
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('python3 did not listen within 5 s')), 5000);
    child.stdout.once('data', (data: Buffer) => {
      clearTimeout(timer);
      resolve(Number(String(data).trim()));
    });
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    port,
    close() {
      for (const socket of fillers) socket.destroy();
      child.kill();
    },
  };
}
