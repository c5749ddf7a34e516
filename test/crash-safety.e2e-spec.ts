import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheStore } from '../src/cache/cache-store.service.js';
import { blake2bPrefix } from '../src/common/layout.js';
import { FillService } from '../src/fills/fill.service.js';
import { FaultyDiskIo, freeBytes } from './support/faulty-disk.js';
import { fetchDistfile } from './support/http-client.js';
import { makeTempDir, type RunningPortcache, startPortcache } from './support/portcache.js';
import { spawnServer } from './support/spawn-server.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForCommit } from './support/wait.js';

const KILLED = randomBytes(4 * 1024 * 1024);
const HIT_A = randomBytes(1_500_000);
const FULL_B = randomBytes(2 * 1024 * 1024);
const TOO_BIG = randomBytes(5 * 1024 * 1024);
const SMALL = randomBytes(100 * 1024);

const LONG = { timeout: 30_000 };

/** Polls `check` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    if (await check()) return;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** Resolves when `child` has exited (bounded), sending SIGKILL first if it still runs. */
async function killAndWait(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`pid ${child.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  await Promise.race([exited, bound]).finally(() => clearTimeout(timer));
}

function distfileUrl(base: string, name: string): string {
  return `${base}/distfiles/${blake2bPrefix(name)}/${name}`;
}

function committedPath(cacheDir: string, name: string): string {
  return join(cacheDir, blake2bPrefix(name), name);
}

function metaPath(cacheDir: string, name: string): string {
  return join(cacheDir, '.portcache', 'meta', blake2bPrefix(name), name);
}

function tmpDirOf(cacheDir: string): string {
  return join(cacheDir, '.portcache', 'tmp');
}

/** GETs from every upstream for `name`, summed. */
function upstreamGets(upstreams: UpstreamServer[], name: string): number {
  return upstreams.reduce((n, u) => n + u.requestsFor(name).filter((r) => r.method === 'GET').length, 0);
}

/** The body of a truncated response is a strict prefix of `full`. */
function expectTruncatedPrefix(body: Buffer, full: Buffer): void {
  expect(body.length).toBeLessThan(full.length);
  expect(body.equals(full.subarray(0, body.length))).toBe(true);
}

describe('crash safety: kill -9 in the middle of a fill', () => {
  const cleanup: Array<() => unknown> = [];
  afterAll(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('leaves only a temporary file, which a restart sweeps and never serves', LONG, async () => {
    const name = 'killed-1.0.tar.xz';
    const upstream = await UpstreamServer.start('hashed');
    cleanup.push(() => upstream.close());
    upstream.add(name, KILLED, { rate: 500_000 });
    const dir = await makeTempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const env = { PORTCACHE_CACHE_DIR: dir, PORTCACHE_MIRRORS: upstream.url };

    const first = await spawnServer(env);
    cleanup.push(() => killAndWait(first.child));
    const response = await request(distfileUrl(first.url, name));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(String(KILLED.length));
    const chunks: Buffer[] = [];
    let received = 0;
    const reading = (async () => {
      try {
        for await (const chunk of response.body) {
          chunks.push(chunk as Buffer);
          received += (chunk as Buffer).length;
        }
        return undefined;
      } catch (error) {
        return error as Error;
      }
    })();
    await until('the client received 500 KB', () => received >= 500_000);
    await killAndWait(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');

    // The client's response is cut short, and what it got is the start of the file.
    const readError = await Promise.race([reading, sleep(10_000).then(() => 'still reading')]);
    expect(readError).toBeInstanceOf(Error);
    expectTruncatedPrefix(Buffer.concat(chunks), KILLED);

    // On disk: the partial is in tmp/, holding at least what the client got; nothing is committed.
    const leftovers = await readdir(tmpDirOf(dir));
    const parts = leftovers.filter((entry) => entry.endsWith('.part'));
    expect(parts).toHaveLength(1);
    const partBytes = await readFile(join(tmpDirOf(dir), parts[0]));
    expect(partBytes.length).toBeGreaterThanOrEqual(received);
    expectTruncatedPrefix(partBytes, KILLED);
    expect(existsSync(committedPath(dir, name))).toBe(false);
    expect(existsSync(metaPath(dir, name))).toBe(false);

    const second = await spawnServer(env);
    cleanup.push(() => killAndWait(second.child));
    expect(await readdir(tmpDirOf(dir))).toEqual([]);
    expect(second.output()).toMatch(/removed 1 temporary file\(s\) left by an interrupted fill/);

    const head = await fetchDistfile(distfileUrl(second.url, name), { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(upstream.requestsFor(name)).toHaveLength(1);

    upstream.misbehave(name, {});
    const full = await fetchDistfile(distfileUrl(second.url, name));
    expect(full.error).toBeUndefined();
    expect(full.status).toBe(200);
    expect(full.body.length).toBe(KILLED.length);
    expect(full.body.equals(KILLED)).toBe(true);

    const requests = upstream.requestsFor(name);
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.method)).toEqual(['GET', 'GET']);
    // The restart fetched from byte 0: nothing of the swept partial was trusted.
    expect(requests[1].range).toBeUndefined();

    await until('the refilled file is committed', () => existsSync(committedPath(dir, name)));
    expect((await readFile(committedPath(dir, name))).equals(KILLED)).toBe(true);
    await killAndWait(second.child);
  });
});

describe('crash safety: ENOSPC on the fill write path', () => {
  const disk = new FaultyDiskIo();
  const A = 'hit-a-1.0.tar.gz';
  const B = 'full-disk-b-1.0.tar.gz';
  let one: UpstreamServer;
  let two: UpstreamServer;
  let portcache: RunningPortcache;

  beforeAll(async () => {
    one = await UpstreamServer.start('hashed');
    two = await UpstreamServer.start('hashed');
    // Both mirrors have both files, so every upstream GET counted below is a 200 (the balancer
    // may explore either mirror first).
    one.add(A, HIT_A).add(B, FULL_B);
    two.add(A, HIT_A).add(B, FULL_B);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: `${one.url} ${two.url}` }, { diskIo: disk });
  });

  afterAll(async () => {
    disk.disarm();
    await portcache?.close();
    await one?.close();
    await two?.close();
  });

  it('fails the fill once, blames no mirror, leaves nothing, keeps serving hits', LONG, async () => {
    const store = portcache.app.get(CacheStore);
    const fills = portcache.app.get(FillService);
    const cacheDir = portcache.cacheDir;

    const a = await fetchDistfile(distfileUrl(portcache.url, A));
    expect(a.error).toBeUndefined();
    expect(a.body.equals(HIT_A)).toBe(true);
    await waitForCommit(portcache, A);
    expect(disk.faults).toBe(0);

    disk.failAfter(512 * 1024);
    const truncated = await fetchDistfile(distfileUrl(portcache.url, B));
    // Either the body was cut (status 200 with an error) or the fill failed before the headers.
    if (truncated.status === 200) expect(truncated.error).toBeDefined();
    else expect(truncated.status).toBeGreaterThanOrEqual(500);
    expectTruncatedPrefix(truncated.body, FULL_B);
    await until('the failed fill is over', () => !fills.isFilling(B));
    expect(disk.faults).toBe(1);
    // One upstream GET for B in all: the fill did not move on to the other mirror.
    expect(upstreamGets([one, two], B)).toBe(1);

    await until('the tmp dir is empty', async () => (await readdir(tmpDirOf(cacheDir))).length === 0);
    expect(store.get(B)).toBeUndefined();
    expect(existsSync(committedPath(cacheDir, B))).toBe(false);
    expect(existsSync(metaPath(cacheDir, B))).toBe(false);
    expect((await fetchDistfile(distfileUrl(portcache.url, B), { method: 'HEAD' })).status).toBe(404);

    // A is still a hit (HIT_A is over 1 MiB: served from disk, not from memory), byte for byte.
    const hit = await fetchDistfile(distfileUrl(portcache.url, A));
    expect(hit.status).toBe(200);
    expect(hit.error).toBeUndefined();
    expect(hit.body.equals(HIT_A)).toBe(true);
    expect(upstreamGets([one, two], A)).toBe(1);

    disk.disarm();
    const again = await fetchDistfile(distfileUrl(portcache.url, B));
    expect(again.status).toBe(200);
    expect(again.error).toBeUndefined();
    expect(again.body.equals(FULL_B)).toBe(true);
    await waitForCommit(portcache, B);
    expect((await readFile(committedPath(cacheDir, B))).equals(FULL_B)).toBe(true);
    expect(upstreamGets([one, two], B)).toBe(2);
    expect(disk.faults).toBe(1);

    const mirrors = await fetchDistfile(`${portcache.url}/api/v1/mirrors`);
    expect(mirrors.status).toBe(200);
    const states = JSON.parse(mirrors.body.toString()) as Array<{
      url: string;
      circuit: string;
      failures: number;
      consecutiveFailures: number;
    }>;
    expect(states.map((m) => m.url).sort()).toEqual([one.url, two.url].sort());
    for (const mirror of states) {
      expect(mirror, mirror.url).toMatchObject({ circuit: 'closed', failures: 0, consecutiveFailures: 0 });
    }
  });
});

describe('crash safety: a real full file system (tmpfs)', () => {
  it('truncates a file that does not fit, commits nothing, then works', LONG, async (ctx) => {
    const dir = await makeTempDir('portcache-tmpfs-');
    let mountError: string | undefined;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (error) {
      const e = error as { stderr?: Buffer; message: string };
      mountError = e.stderr?.toString().trim() || e.message;
    }
    if (mountError !== undefined) {
      await rm(dir, { recursive: true, force: true });
      ctx.skip(`cannot mount a 3 MiB tmpfs here (needs root or CAP_SYS_ADMIN): ${mountError}`);
    }

    const upstream = await UpstreamServer.start('hashed');
    let portcache: RunningPortcache | undefined;
    try {
      const big = 'too-big-1.0.tar.xz';
      const small = 'small-1.0.tar.gz';
      upstream.add(big, TOO_BIG).add(small, SMALL);
      portcache = await startPortcache({ PORTCACHE_MIRRORS: upstream.url }, { cacheDir: dir });
      const freeAtStart = await freeBytes(dir);
      expect(freeAtStart).toBeLessThan(TOO_BIG.length);

      const truncated = await fetchDistfile(distfileUrl(portcache.url, big));
      if (truncated.status === 200) expect(truncated.error).toBeDefined();
      else expect(truncated.status).toBeGreaterThanOrEqual(500);
      expectTruncatedPrefix(truncated.body, TOO_BIG);

      const fills = portcache.app.get(FillService);
      await until('the failed fill is over', () => !fills.isFilling(big));
      await until('the tmp dir is empty', async () => (await readdir(tmpDirOf(dir))).length === 0);
      expect(portcache.app.get(CacheStore).get(big)).toBeUndefined();
      expect(existsSync(committedPath(dir, big))).toBe(false);
      expect(existsSync(metaPath(dir, big))).toBe(false);
      expect(upstream.requestsFor(big)).toHaveLength(1);
      // The deleted partial's space comes back: no file handle on it was leaked.
      await until('the space of the discarded partial is free again', async () => {
        return (await freeBytes(dir)) >= freeAtStart;
      });

      const ok = await fetchDistfile(distfileUrl(portcache.url, small));
      expect(ok.status).toBe(200);
      expect(ok.error).toBeUndefined();
      expect(ok.body.equals(SMALL)).toBe(true);
      await waitForCommit(portcache, small);
      expect((await readFile(committedPath(dir, small))).equals(SMALL)).toBe(true);
      expect((await stat(metaPath(dir, small))).isFile()).toBe(true);
      expect(await readdir(tmpDirOf(dir))).toEqual([]);
    } finally {
      await portcache?.close({ keepCacheDir: true });
      await upstream.close();
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
