import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FillService } from '../src/fills/fill.service.js';
import { GatedUpstream } from './support/gated-upstream.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { countFds, type FdCensus, fdsSettled, RssSampler } from './support/process-census.js';
import { stalledClients } from './support/stalled-clients.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

const MB = 1_000_000;
const TOKEN = 'hostile-clients-test-token';
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/**
 * Open descriptors allowed above the baseline once everything settled. The mirror closes every
 * connection and leaked files show up in the "(deleted)" count, which gets no slack; but the
 * test's own keep-alive connections to portcache (undici's global pool: both ends are sockets of
 * this process) are opened and closed on their own schedule. Observed: +2, one such connection.
 */
const FD_SLACK = 5;

/** Bounded wait for `condition`. */
async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(10)) {
    if (Date.now() > deadline) return false;
  }
  return true;
}

/** `count` raw GETs of `paths` (round robin), each connection dropped `afterMs` after sending; resolves once all are closed. */
async function leavingClients(
  origin: string,
  paths: string[],
  count: number,
  afterMs: number,
): Promise<void> {
  const { port } = new URL(origin);
  const closed = Array.from(
    { length: count },
    (_, i) =>
      new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(`GET ${paths[i % paths.length]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          setTimeout(() => socket.destroy(), afterMs);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      }),
  );
  await Promise.all(closed);
}

/** DELETEs a cached file; retries (bounded) while its fill still holds the name just after the commit. */
async function remove(portcache: RunningPortcache, name: string): Promise<number> {
  for (const deadline = Date.now() + 3000; ; await sleep(20)) {
    const response = await request(`${portcache.url}/api/v1/distfiles/${name}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.body.dump();
    if (response.statusCode !== 409 || Date.now() > deadline) return response.statusCode;
  }
}

function report(what: string, baseline: FdCensus, after: FdCensus & { ms: number }, extra = ''): void {
  console.log(
    `${what}: fds ${baseline.open} -> ${after.open} (deleted ${baseline.deleted} -> ${after.deleted}) ` +
      `settled in ${Math.round(after.ms)} ms${extra}`,
  );
}

describe('hostile clients', () => {
  let upstream: GatedUpstream | undefined;
  let portcache: RunningPortcache | undefined;

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await upstream?.stop();
    upstream = undefined;
  });

  /** A mirror with `names` (200 KB each) and a portcache that has already looked up its layout. */
  async function setUp(names: string[], env: Record<string, string> = {}) {
    upstream = await GatedUpstream.start();
    for (const name of ['warm-1.0.tar.gz', ...names]) upstream.add(name, randomBytes(200_000));
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: upstream.url,
      PORTCACHE_ADMIN_TOKEN: TOKEN,
      PORTCACHE_STALL_TIMEOUT: '10s',
      ...env,
    });
    // Everything done once per process (the mirror's layout, lazy modules) happens before the baseline.
    expect((await fetchDistfile(`${portcache.url}/distfiles/warm-1.0.tar.gz`)).status).toBe(200);
    await waitForCommit(portcache, 'warm-1.0.tar.gz');
    expect(await remove(portcache, 'warm-1.0.tar.gz')).toBe(200);
    upstream.requested.length = 0;
    return { upstream, portcache };
  }

  describe('that leave before the headers', () => {
    it('300 clients of misses whose upstream is slow to answer leave no reader, file or descriptor behind', async () => {
      const names = Array.from({ length: 10 }, (_, i) => `gone-early-${i}-1.0.tar.gz`);
      const { upstream, portcache } = await setUp(names, { PORTCACHE_MIRROR_CONCURRENCY: '16' });
      const baseline = countFds();
      upstream.close();
      await leavingClients(
        portcache.url,
        names.map((name) => `/distfiles/${name}`),
        300,
        30,
      );
      // Every fill is waiting for its upstream's headers, and every client is gone.
      expect(await until(() => upstream.requested.length === names.length, 5000)).toBe(true);
      await sleep(100);
      upstream.open();
      for (const name of names) await waitForCommit(portcache, name, 10_000);
      // Removed files: a descriptor still open on one shows up as "(deleted)".
      for (const name of names) expect(await remove(portcache, name)).toBe(200);
      const after = await fdsSettled(baseline, FD_SLACK, 3000);
      report('300 clients gone before the headers', baseline, after);
      expect(after.deleted).toBe(baseline.deleted);
      expect(after.open).toBeLessThanOrEqual(baseline.open + FD_SLACK);
    });

    it('300 clients queued for a fill slot (PORTCACHE_MAX_FILLS=1) leave no reader, file or descriptor behind', async () => {
      const names = Array.from({ length: 10 }, (_, i) => `queued-${i}-1.0.tar.gz`);
      const { upstream, portcache } = await setUp(['slot-holder-1.0.tar.gz', ...names], {
        PORTCACHE_MAX_FILLS: '1',
        PORTCACHE_QUEUE_WAIT: '20s',
      });
      const baseline = countFds();
      upstream.close();
      // The only slot: a fill waiting for its upstream, whose client leaves too.
      await leavingClients(portcache.url, ['/distfiles/slot-holder-1.0.tar.gz'], 1, 30);
      expect(await until(() => upstream.requested.includes('slot-holder-1.0.tar.gz'), 5000)).toBe(true);
      await leavingClients(
        portcache.url,
        names.map((name) => `/distfiles/${name}`),
        300,
        30,
      );
      await sleep(100);
      expect(upstream.requested).toEqual(['slot-holder-1.0.tar.gz']); // the rest still queued
      upstream.open();
      for (const name of ['slot-holder-1.0.tar.gz', ...names]) await waitForCommit(portcache, name, 10_000);
      for (const name of ['slot-holder-1.0.tar.gz', ...names])
        expect(await remove(portcache, name)).toBe(200);
      const after = await fdsSettled(baseline, FD_SLACK, 3000);
      report('300 clients gone while queued for a slot', baseline, after);
      expect(after.deleted).toBe(baseline.deleted);
      expect(after.open).toBeLessThanOrEqual(baseline.open + FD_SLACK);
    });
  });

  describe('that stop reading (PORTCACHE_CLIENT_TIMEOUT=1s)', () => {
    /**
     * RSS bound for 1,000 stalled responses: each holds at most one pooled read buffer (64 KiB;
     * four of them 1 MiB) and a socket, about 70 MB in all, plus the test's own traffic; 200 MB
     * leaves room for GC timing, not for a buffer per chunk or an unbounded queue.
     */
    const RSS_BOUND = 200 * 1024 * 1024;

    it('cuts 1,000 stalled clients of a big cached file, with bounded memory, back to the baseline fds', async () => {
      const body = randomBytes(4 * MB);
      const name = 'big-cached-1.0.tar.gz';
      upstream = await GatedUpstream.start();
      upstream.add(name, body);
      portcache = await startPortcache({
        PORTCACHE_MIRRORS: upstream.url,
        PORTCACHE_CLIENT_TIMEOUT: '1s',
      });
      const url = `${portcache.url}/distfiles/${name}`;
      expect(sha((await fetchDistfile(url)).body)).toBe(sha(body));
      await waitForCommit(portcache, name);
      expect(sha((await fetchDistfile(url)).body)).toBe(sha(body)); // a hit: its descriptor is cached
      const baseline = countFds();
      const rssBefore = process.memoryUsage.rss();
      const rss = new RssSampler();
      const clients = await stalledClients(portcache.url, [`/distfiles/${name}`], 1000);
      const connected = countFds();
      const after = await fdsSettled(baseline, FD_SLACK, 10_000);
      const rssMax = rss.stop();
      await clients.close();
      report(
        '1,000 stalled clients of a cached file',
        baseline,
        after,
        `; at the last connect ${connected.open} fds; RSS +${((rssMax - rssBefore) / 2 ** 20).toFixed(0)} MiB at most`,
      );
      expect(clients.connected).toBe(1000);
      expect(clients.sawHeaders).toBe(500);
      expect(after.settled).toBe(true);
      // The client timeout, at most ~2 sweeps (250 ms each) late, and the time to close 1,000 sockets.
      expect(after.ms).toBeLessThan(5000);
      expect(rssMax - rssBefore).toBeLessThan(RSS_BOUND);
      // Still serving.
      expect(sha((await fetchDistfile(url)).body)).toBe(sha(body));
    });

    it('cuts 1,000 stalled clients of a running fill, but not a client waiting for the fill', async () => {
      const body = randomBytes(12 * MB);
      const name = 'big-fill-1.0.tar.gz';
      const { upstream, portcache } = await setUp([], {
        PORTCACHE_CLIENT_TIMEOUT: '1s',
        PORTCACHE_MIN_RATE: '0',
      });
      // 4 MB/s with a 2 s pause half-way: the reading client waits for bytes longer than the timeout.
      upstream.add(name, body, { bytesPerSecond: 4 * MB, pauseAt: 6 * MB, pauseMs: 2000 });
      const baseline = countFds();
      const rssBefore = process.memoryUsage.rss();
      const rss = new RssSampler();
      const url = `${portcache.url}/distfiles/${name}`;
      const reading = fetchDistfile(url);
      await waitForFillAt(portcache, name, 500_000);
      const clients = await stalledClients(portcache.url, [`/distfiles/${name}`], 1000);
      const connected = countFds();
      // The fill's own descriptors (temporary file, upstream connection, the reading client's two
      // sockets) are still open: "cut" is when the 1,000 sockets are gone.
      const cut = await fdsSettled(baseline, 20, 10_000);
      const fillRunning = portcache.app.get(FillService).running(name) !== undefined;
      const rssMax = rss.stop();
      await clients.close();
      const read = await reading;
      await waitForCommit(portcache, name);
      expect(await remove(portcache, name)).toBe(200);
      const after = await fdsSettled(baseline, FD_SLACK, 3000);
      report(
        '1,000 stalled clients of a running fill',
        baseline,
        after,
        `; at the last connect ${connected.open} fds, cut in ${Math.round(cut.ms)} ms; ` +
          `RSS +${((rssMax - rssBefore) / 2 ** 20).toFixed(0)} MiB at most`,
      );
      expect(clients.connected).toBe(1000);
      expect(clients.sawHeaders).toBe(500);
      expect(cut.settled).toBe(true);
      expect(cut.ms).toBeLessThan(5000);
      expect(fillRunning).toBe(true); // they were cut while the fill ran, not released by its end
      expect(read.error).toBeUndefined();
      expect(sha(read.body)).toBe(sha(body));
      expect(rssMax - rssBefore).toBeLessThan(RSS_BOUND);
      expect(after.deleted).toBe(baseline.deleted);
      expect(after.open).toBeLessThanOrEqual(baseline.open + FD_SLACK);
    });
  });

  describe('PUT import with a content type other than application/octet-stream', () => {
    const tmpDir = (portcache: RunningPortcache) => join(portcache.cacheDir, '.portcache', 'tmp');

    /** A PUT with exactly these headers (none added); rejects after 2 s without an answer. */
    function put(
      portcache: RunningPortcache,
      name: string,
      headers: Record<string, string>,
      body: Buffer,
    ): Promise<{ status: number; text: string; ms: number }> {
      const started = performance.now();
      const { port } = new URL(portcache.url);
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'PUT',
            path: `/api/v1/distfiles/${name}?unverified=1`,
            headers,
            agent: false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                text: Buffer.concat(chunks).toString(),
                ms: performance.now() - started,
              }),
            );
          },
        );
        req.setTimeout(2000, () => {
          req.destroy();
          reject(new Error(`PUT ${name} (${headers['content-type']}): no answer within 2 s`));
        });
        req.on('error', reject);
        req.end(body);
      });
    }

    const auth = { authorization: `Bearer ${TOKEN}` };
    const json = Buffer.from('{"name": "x"}');
    const refused: Array<[string, Record<string, string>, Buffer]> = [
      ['text/plain', { 'content-type': 'text/plain' }, Buffer.from('hello')],
      ['application/json', { 'content-type': 'application/json' }, json],
      ['invalid JSON', { 'content-type': 'application/json' }, Buffer.from('{not json')],
      ['JSON beyond the body limit', { 'content-type': 'application/json' }, Buffer.alloc(1024 * 1024, 0x20)],
      [
        'chunked JSON beyond the body limit',
        { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        Buffer.alloc(1024 * 1024, 0x20),
      ],
      // What `curl -X PUT --data-binary @file` sends.
      ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from('a=b')],
      ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, Buffer.from('--x--\r\n')],
      ['a made-up type', { 'content-type': 'application/x-distfile' }, randomBytes(1000)],
    ];

    it('refuses each with 415 at once, creating no temporary file and keeping no descriptor', async () => {
      const { portcache } = await setUp([]);
      const baseline = countFds();
      for (const [what, headers, body] of refused) {
        const answer = await put(portcache, 'refused-1.0.tar.gz', { ...auth, ...headers }, body);
        expect({ what, status: answer.status }).toEqual({ what, status: 415 });
        expect(answer.text).toContain('application/octet-stream');
        expect(answer.ms).toBeLessThan(1000);
        expect(await readdir(tmpDir(portcache))).toEqual([]);
      }
      // The token is checked first.
      const anonymous = await put(portcache, 'refused-1.0.tar.gz', { 'content-type': 'text/plain' }, json);
      expect(anonymous.status).toBe(401);
      expect((await fetchDistfile(`${portcache.url}/distfiles/refused-1.0.tar.gz`)).status).toBe(404);
      const after = await fdsSettled(baseline, FD_SLACK, 3000);
      expect(after.deleted).toBe(baseline.deleted);
      expect(after.open).toBeLessThanOrEqual(baseline.open + FD_SLACK);
    });

    it('imports application/octet-stream (as portcache import sends), and a body without a type (as curl -T sends)', async () => {
      const { portcache } = await setUp([]);
      for (const [name, headers] of [
        ['typed-1.0.tar.gz', { 'content-type': 'application/octet-stream' }],
        ['typed-params-1.0.tar.gz', { 'content-type': 'Application/Octet-Stream; charset=binary' }],
        ['untyped-1.0.tar.gz', {}],
      ] as const) {
        const body = randomBytes(100_000);
        const answer = await put(portcache, name, { ...auth, ...headers }, body);
        expect({ name, status: answer.status }).toEqual({ name, status: 201 });
        const served = await fetchDistfile(`${portcache.url}/distfiles/${name}`);
        expect(sha(served.body)).toBe(sha(body));
      }
    });
  });
});
