import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheStore } from '../src/cache/cache-store.service.js';
import { blake2bPrefix } from '../src/common/layout.js';
import { holdCommits } from './support/hold-commits.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

const MB = 1_000_000;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('fills', () => {
  const upstreams: UpstreamServer[] = [];
  let portcache: RunningPortcache | undefined;

  async function upstream(layout: 'hashed' | 'flat' = 'hashed') {
    const server = await UpstreamServer.start(layout);
    upstreams.push(server);
    return server;
  }

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    for (const server of upstreams.splice(0)) await server.close();
  });

  it('serves 16 concurrent clients of one miss from ONE upstream download', async () => {
    const body = randomBytes(3 * MB);
    const mirror = (await upstream()).add('shared-1.0.tar.gz', body, { rate: 6 * MB });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });
    const url = `${portcache.url}/distfiles/shared-1.0.tar.gz`;
    const responses = await Promise.all(Array.from({ length: 16 }, () => fetchDistfile(url)));
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.headers['content-length']).toBe(String(body.length));
      expect(sha(response.body)).toBe(sha(body));
    }
    expect(mirror.requestsFor('shared-1.0.tar.gz')).toHaveLength(1);
  });

  it('gives a client joining at 50% the whole file, and a Range client exactly its bytes with 206', async () => {
    const body = randomBytes(2 * MB);
    const name = 'join-1.0.tar.gz';
    const mirror = (await upstream()).add(name, body, { rate: 2 * MB });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });
    const url = `${portcache.url}/distfiles/${name}`;
    const first = fetchDistfile(url);
    await waitForFillAt(portcache, name, body.length / 2);
    const offset = 1_200_000;
    const [late, ranged] = await Promise.all([
      fetchDistfile(url),
      fetchDistfile(url, { headers: { range: `bytes=${offset}-` } }),
    ]);
    expect(sha(late.body)).toBe(sha(body));
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes ${offset}-${body.length - 1}/${body.length}`);
    expect(ranged.body.equals(body.subarray(offset))).toBe(true);
    expect(sha((await first).body)).toBe(sha(body));
    expect(mirror.requestsFor(name)).toHaveLength(1);
  });

  it('serves a Range far beyond the fill from its own ranged upstream request, without waiting', async () => {
    const body = randomBytes(4 * MB);
    const name = 'far-1.0.tar.gz';
    const mirror = (await upstream()).add(name, body, { rate: 400_000 });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_STALL_TIMEOUT: '4s' });
    const url = `${portcache.url}/distfiles/${name}`;
    const first = request(url);
    await waitForFillAt(portcache, name, 100_000);
    const offset = body.length - 200_000;
    const started = Date.now();
    const ranged = await fetchDistfile(url, { headers: { range: `bytes=${offset}-` } });
    const elapsed = Date.now() - started;
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(body.subarray(offset))).toBe(true);
    // The fill itself would need ~9 s to get there.
    expect(elapsed).toBeLessThan(3000);
    expect(mirror.requestsFor(name).map((r) => r.range)).toEqual([undefined, `bytes=${offset}-`]);
    (await first).body.destroy();
  });

  it('finishes and commits the fill when the only client disconnects at 10%', async () => {
    const body = randomBytes(2 * MB);
    const name = 'leaver-1.0.tar.gz';
    const mirror = (await upstream()).add(name, body, { rate: 4 * MB });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });
    const response = await request(`${portcache.url}/distfiles/${name}`);
    let received = 0;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received >= body.length / 10) break;
    }
    response.body.destroy();
    await waitForCommit(portcache, name, 10_000);
    const hit = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(hit.headers.etag).toBeDefined();
    expect(sha(hit.body)).toBe(sha(body));
    expect(mirror.requestsFor(name)).toHaveLength(1);
  });

  it('resumes on the next mirror with Range when the first resets the connection at 40%', async () => {
    const body = randomBytes(2 * MB);
    const name = 'reset-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { resetAfter: 0.4 * body.length });
    const b = (await upstream('flat')).add(name, body);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.error).toBeUndefined();
    expect(sha(response.body)).toBe(sha(body));
    expect(b.requestsFor(name).map((r) => r.range)).toEqual([`bytes=${0.4 * body.length}-`]);
    await waitForCommit(portcache, name);
  });

  it('moves to the next mirror after the stall timeout when the first stops sending', async () => {
    const body = randomBytes(2 * MB);
    const name = 'stall-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { stallAfter: 600_000 });
    const b = (await upstream()).add(name, body);
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: `${a.url} ${b.url}`,
      PORTCACHE_STALL_TIMEOUT: '1s',
    });
    const started = Date.now();
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    // Either the client saw the whole file, or (its own stall guard fired first) a true prefix.
    expect(body.subarray(0, response.body.length).equals(response.body)).toBe(true);
    await waitForCommit(portcache, name);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(b.requestsFor(name).map((r) => r.range)).toEqual(['bytes=600000-']);
    expect(sha((await fetchDistfile(`${portcache.url}/distfiles/${name}`)).body)).toBe(sha(body));
  });

  it('leaves a mirror that stays below PORTCACHE_MIN_RATE while another is healthy', async () => {
    const body = randomBytes(2 * MB);
    const name = 'slow-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { rate: 100_000 });
    const b = (await upstream()).add(name, body);
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: `${a.url} ${b.url}`,
      PORTCACHE_STALL_TIMEOUT: '1s',
      PORTCACHE_MIN_RATE: '1M',
    });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(body.subarray(0, response.body.length).equals(response.body)).toBe(true);
    await waitForCommit(portcache, name);
    const [resume] = b.requestsFor(name);
    expect(resume.range).toMatch(/^bytes=\d+-$/);
    expect(sha((await fetchDistfile(`${portcache.url}/distfiles/${name}`)).body)).toBe(sha(body));
  });

  it('carries on when a mirror that ignores Range re-sends the same bytes', async () => {
    const body = randomBytes(2 * MB);
    const name = 'norange-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { resetAfter: 800_000 });
    const b = (await upstream()).add(name, body, { ignoreRange: true });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.error).toBeUndefined();
    expect(sha(response.body)).toBe(sha(body));
    expect(b.requestsFor(name).map((r) => r.range)).toEqual(['bytes=800000-']);
    await waitForCommit(portcache, name);
  });

  it('aborts the clients and continues with the new bytes when that mirror has a different file', async () => {
    const oldBody = randomBytes(2 * MB);
    const newBody = Buffer.from(oldBody);
    newBody.fill(7, 500_000, 600_000);
    const name = 'changed-1.0.tar.gz';
    const a = (await upstream()).add(name, oldBody, { resetAfter: 800_000 });
    const b = (await upstream()).add(name, newBody, { ignoreRange: true });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.error).toBeDefined();
    // Never a byte of the new version after bytes of the old one.
    expect(oldBody.subarray(0, response.body.length).equals(response.body)).toBe(true);
    await waitForCommit(portcache, name);
    expect(sha((await fetchDistfile(`${portcache.url}/distfiles/${name}`)).body)).toBe(sha(newBody));
  });

  it('starts over when the mirror that ignores Range has the file with another length', async () => {
    const oldBody = randomBytes(2 * MB);
    const newBody = Buffer.concat([oldBody, randomBytes(MB)]);
    const name = 'longer-1.0.tar.gz';
    const a = (await upstream()).add(name, oldBody, { resetAfter: 800_000 });
    const b = (await upstream()).add(name, newBody, { ignoreRange: true });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.error).toBeDefined();
    expect(oldBody.subarray(0, response.body.length).equals(response.body)).toBe(true);
    await waitForCommit(portcache, name);
    const hit = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(hit.headers['content-length']).toBe(String(newBody.length));
    expect(sha(hit.body)).toBe(sha(newBody));
  });

  it('rejects a resume answered with a wrong Content-Range and resumes elsewhere', async () => {
    const body = randomBytes(2 * MB);
    const name = 'badrange-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { resetAfter: 800_000 });
    const b = (await upstream()).add(name, body, { wrongContentRange: true });
    const c = (await upstream()).add(name, body);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url} ${c.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(sha(response.body)).toBe(sha(body));
    expect(b.requestsFor(name)).toHaveLength(1);
    expect(c.requestsFor(name).map((r) => r.range)).toEqual(['bytes=800000-']);
    await waitForCommit(portcache, name);
    expect(sha((await fetchDistfile(`${portcache.url}/distfiles/${name}`)).body)).toBe(sha(body));
  });

  it('commits nothing when the only resume has a wrong Content-Range, and no corrupt byte reaches the client', async () => {
    const body = randomBytes(2 * MB);
    const name = 'badrange-only-1.0.tar.gz';
    const a = (await upstream()).add(name, body, { resetAfter: 800_000 });
    const b = (await upstream()).add(name, body, { wrongContentRange: true });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
    expect(response.error).toBeDefined();
    expect(body.subarray(0, response.body.length).equals(response.body)).toBe(true);
    await sleep(100);
    expect(existsSync(join(portcache.cacheDir, blake2bPrefix(name), name))).toBe(false);
    expect(await readdir(join(portcache.cacheDir, '.portcache', 'tmp'))).toEqual([]);
  });

  it('treats an HTML page and a short body as failures of that mirror', async () => {
    const body = randomBytes(MB);
    const a = (await upstream()).add('page-1.0.tar.gz', Buffer.from('<html>mirror error</html>'), {
      contentType: 'text/html; charset=utf-8',
    });
    const b = (await upstream()).add('page-1.0.tar.gz', body);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${a.url} ${b.url}` });
    const response = await fetchDistfile(`${portcache.url}/distfiles/page-1.0.tar.gz`);
    expect(sha(response.body)).toBe(sha(body));
    const mirrors = (await fetchDistfile(`${portcache.url}/api/v1/mirrors`)).body.toString();
    const stateA = (JSON.parse(mirrors) as Array<{ url: string; failures: number }>).find(
      (m) => m.url === a.url,
    );
    expect(stateA?.failures).toBe(1);
  });

  // The only slot and the only connection to the mirror: the second miss can start only once the
  // first fill gave them back. Its commit is held (fsyncs on a slow disk, or its hash waiting
  // behind other fills' hashing) until the second file has arrived.
  it.each<{ cap: string; env: Record<string, string> }>([
    { cap: 'download slot', env: { PORTCACHE_MAX_FILLS: '1' } },
    { cap: 'mirror connection', env: { PORTCACHE_MIRROR_CONCURRENCY: '1' } },
  ])('gives its $cap back when the transfer is over, not when the commit is', async ({ env }) => {
    const first = randomBytes(200_000);
    const second = randomBytes(300_000);
    const mirror = (await upstream()).add('first-1.0.tar.gz', first).add('second-1.0.tar.gz', second);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_QUEUE_WAIT: '2s', ...env });
    const store = portcache.app.get(CacheStore);
    const letCommit = holdCommits(store);
    try {
      // No Manifest knows these files: a client has all bytes before the commit.
      const a = await fetchDistfile(`${portcache.url}/distfiles/first-1.0.tar.gz`);
      expect(sha(a.body)).toBe(sha(first));
      const b = await fetchDistfile(`${portcache.url}/distfiles/second-1.0.tar.gz`);
      expect(b.status).toBe(200);
      expect(sha(b.body)).toBe(sha(second));
      expect(store.get('first-1.0.tar.gz')).toBeUndefined(); // still committing
    } finally {
      letCommit();
    }
    await waitForCommit(portcache, 'first-1.0.tar.gz');
    await waitForCommit(portcache, 'second-1.0.tar.gz');
    expect(mirror.requestsFor('first-1.0.tar.gz')).toHaveLength(1);
    expect(mirror.requestsFor('second-1.0.tar.gz')).toHaveLength(1);
  });

  it('keeps at most PORTCACHE_MAX_FILLS fills hashing and committing: beyond that a transfer keeps its slot', async () => {
    const bodies = { a: randomBytes(100_000), b: randomBytes(200_000), c: randomBytes(300_000) };
    const mirror = (await upstream())
      .add('settle-a-1.0.tar.gz', bodies.a)
      .add('settle-b-1.0.tar.gz', bodies.b)
      .add('settle-c-1.0.tar.gz', bodies.c);
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_MAX_FILLS: '1',
      PORTCACHE_QUEUE_WAIT: '500ms',
    });
    const store = portcache.app.get(CacheStore);
    const letCommit = holdCommits(store);
    const url = (name: string) => `${portcache?.url}/distfiles/settle-${name}-1.0.tar.gz`;
    try {
      expect(sha((await fetchDistfile(url('a'))).body)).toBe(sha(bodies.a)); // a now commits
      const b = fetchDistfile(url('b')); // its transfer ends, but a still holds the settling slot
      await waitForFillAt(portcache, 'settle-b-1.0.tar.gz', bodies.b.length);
      expect((await fetchDistfile(url('c'))).status).toBe(503); // b kept the download slot
      expect(mirror.requestsFor('settle-c-1.0.tar.gz')).toHaveLength(0);
      letCommit();
      expect(sha((await b).body)).toBe(sha(bodies.b));
    } finally {
      letCommit();
    }
    expect(sha((await fetchDistfile(url('c'))).body)).toBe(sha(bodies.c));
  });

  it.each<{ cap: string; env: Record<string, string> }>([
    { cap: 'no download slot frees', env: { PORTCACHE_MAX_FILLS: '1' } },
    // Not 404: the busy mirror may have the file.
    { cap: 'the only mirror stays at its concurrency limit', env: { PORTCACHE_MIRROR_CONCURRENCY: '1' } },
  ])('answers 503 with Retry-After when $cap for PORTCACHE_QUEUE_WAIT', async ({ env }) => {
    const mirror = (await upstream())
      .add('busy-1.0.tar.gz', randomBytes(2 * MB), { rate: 500_000 })
      .add('waiting-1.0.tar.gz', randomBytes(1000));
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_QUEUE_WAIT: '500ms',
      ...env,
    });
    const busy = request(`${portcache.url}/distfiles/busy-1.0.tar.gz`);
    await waitForFillAt(portcache, 'busy-1.0.tar.gz', 1);
    const started = Date.now();
    const refused = await fetchDistfile(`${portcache.url}/distfiles/waiting-1.0.tar.gz`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(mirror.requestsFor('waiting-1.0.tar.gz')).toHaveLength(0);
    (await busy).body.destroy();
  });
});
