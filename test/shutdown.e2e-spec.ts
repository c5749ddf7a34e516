import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeDiskIo } from '../src/cache/disk-io.js';
import { blake2bPrefix } from '../src/common/layout.js';
import { makeTempDir, startPortcache } from './support/portcache.js';
import { type SpawnedServer, spawnServer } from './support/spawn-server.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForFillAt } from './support/wait.js';

// The built server (dist/main.js) runs as a child: `npm run build` first (npm test does).

const LONG = { timeout: 40_000 };

function distfileUrl(base: string, name: string): string {
  return `${base}/distfiles/${blake2bPrefix(name)}/${name}`;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    if (await check()) return;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** How the child ended, and after how many ms; fails past `timeoutMs`. */
function exitOf(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** The real write path, until a write hangs (a stuck disk) once `stuck` is set. */
class StuckDiskIo extends NodeDiskIo {
  stuck = false;
  override writev(...args: Parameters<NodeDiskIo['writev']>): Promise<number> {
    return this.stuck ? new Promise<number>(() => undefined) : super.writev(...args);
  }
}

/** Reads a response body as it comes; resolves with the error that ended it, if any. */
function reader(body: AsyncIterable<Buffer>) {
  const state = { received: 0, chunks: [] as Buffer[] };
  const done = (async () => {
    try {
      for await (const chunk of body) {
        state.chunks.push(chunk);
        state.received += chunk.length;
      }
      return undefined;
    } catch (error) {
      return error as Error;
    }
  })();
  return { state, done };
}

describe('graceful shutdown (SIGTERM)', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setUp(env: Record<string, string>) {
    const upstream = await UpstreamServer.start('hashed');
    cleanup.push(() => upstream.close());
    const dir = await makeTempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const server = await spawnServer({ PORTCACHE_CACHE_DIR: dir, PORTCACHE_MIRRORS: upstream.url, ...env });
    cleanup.push(() => {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    });
    return { upstream, dir, server };
  }

  const tmpDirOf = (dir: string) => join(dir, '.portcache', 'tmp');
  const committed = (dir: string, name: string) => join(dir, blake2bPrefix(name), name);
  const saidStopping = (server: SpawnedServer) => /SIGTERM: no new connections/.test(server.output());

  it(
    'during a fill from a slow upstream: refuses new connections, cuts the response after the grace, exits 0, leaves no temporary file',
    LONG,
    async () => {
      const name = 'slow-1.0.tar.xz';
      const body = randomBytes(2 * 1024 * 1024);
      const { upstream, dir, server } = await setUp({ PORTCACHE_SHUTDOWN_GRACE: '1500ms' });
      upstream.add(name, body, { rate: 200_000 }); // about 10 s for the whole file

      const response = await request(distfileUrl(server.url, name));
      expect(response.statusCode).toBe(200);
      const { state, done } = reader(response.body as AsyncIterable<Buffer>);
      await until('the client received 100 KB', () => state.received >= 100_000);
      expect((await readdir(tmpDirOf(dir))).length).toBe(1);

      const signalled = Date.now();
      server.child.kill('SIGTERM');
      await until('the server says it stops', () => saidStopping(server), 5000);
      // No new connections during the grace...
      await expect(request(`${server.url}/health/live`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      // ... while the response in progress goes on.
      const during = state.received;
      await sleep(500);
      expect(state.received).toBeGreaterThan(during);

      const exit = await exitOf(server.child, 10_000);
      const tookMs = Date.now() - signalled;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(tookMs).toBeGreaterThanOrEqual(1400);
      expect(tookMs).toBeLessThan(1500 + 5000);

      // The response was cut, never ended cleanly; what it got is the start of the file.
      const error = await Promise.race([done, sleep(5000).then(() => 'still reading')]);
      expect(error).toBeInstanceOf(Error);
      const got = Buffer.concat(state.chunks);
      expect(got.length).toBeLessThan(body.length);
      expect(got.equals(body.subarray(0, got.length))).toBe(true);

      // Nothing half-written or half-committed.
      expect(await readdir(tmpDirOf(dir))).toEqual([]);
      expect(existsSync(committed(dir, name))).toBe(false);
      expect(existsSync(join(dir, '.portcache', 'meta', blake2bPrefix(name), name))).toBe(false);
      expect(server.output()).toMatch(/still busy: cut/);
      // The cut request still got its access line, written before the exit.
      const access = server
        .output()
        .split('\n')
        .filter((line) => line.includes('"context":"access"') && line.includes(name))
        .map((line) => JSON.parse(line) as { status: number; completed: boolean; result: string });
      expect(access).toMatchObject([{ status: 200, completed: false, result: 'miss' }]);
    },
  );

  // A hit to a client that stopped reading: its socket is full, and the rest of the body waits
  // for room in the sendfile addon's poll. The shutdown cuts it like any response, and the
  // process ends cleanly with the addon's handles (cancelled or not) around.
  it('cuts a hit whose client stopped reading after the grace, and exits 0', LONG, async () => {
    const name = 'big-1.0.tar.xz';
    const body = randomBytes(24 * 1024 * 1024);
    const { upstream, dir, server } = await setUp({ PORTCACHE_SHUTDOWN_GRACE: '1000ms' });
    upstream.add(name, body);
    const fill = await request(distfileUrl(server.url, name));
    await fill.body.dump();
    await until('the file is committed', () => existsSync(committed(dir, name)));

    const { port } = new URL(server.url);
    let received = 0;
    const socket = connect(Number(port), '127.0.0.1', () =>
      socket.write(`GET /distfiles/${blake2bPrefix(name)}/${name} HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    cleanup.push(() => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > 1024 * 1024) socket.pause();
    });
    await until('the client has 1 MiB and stops reading', () => socket.isPaused());
    await sleep(300); // the server's socket buffer fills

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const exit = await exitOf(server.child, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
    expect(received).toBeLessThan(body.length);
  });

  it(
    'lets a response that ends within the grace finish: the client gets the whole file, which is committed',
    LONG,
    async () => {
      const name = 'soon-1.0.tar.xz';
      const body = randomBytes(400 * 1024);
      const { upstream, dir, server } = await setUp({ PORTCACHE_SHUTDOWN_GRACE: '20s' });
      upstream.add(name, body, { rate: 400_000 }); // about 1 s

      const response = await request(distfileUrl(server.url, name));
      const { state, done } = reader(response.body as AsyncIterable<Buffer>);
      await until('the client received 50 KB', () => state.received >= 50_000);
      const signalled = Date.now();
      server.child.kill('SIGTERM');

      expect(await Promise.race([done, sleep(10_000).then(() => 'still reading')])).toBeUndefined();
      expect(Buffer.concat(state.chunks).equals(body)).toBe(true);
      const exit = await exitOf(server.child, 10_000);
      expect(exit).toEqual({ code: 0, signal: null });
      // Well before the grace: the server stops once its last response has ended.
      expect(Date.now() - signalled).toBeLessThan(8000);
      expect(existsSync(committed(dir, name))).toBe(true);
      expect(await readdir(tmpDirOf(dir))).toEqual([]);
    },
  );

  it('closes idle keep-alive connections at once instead of waiting for the grace', LONG, async () => {
    const { server } = await setUp({ PORTCACHE_SHUTDOWN_GRACE: '30s' });
    const client = new Client(server.url, { keepAliveTimeout: 60_000 });
    cleanup.push(() => client.destroy());
    const answer = await client.request({ path: '/health/live', method: 'GET' });
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
    const closed = new Promise<void>((resolve) => client.once('disconnect', () => resolve()));

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    expect(await exitOf(server.child, 10_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(await Promise.race([closed.then(() => 'closed'), sleep(2000).then(() => 'open')])).toBe('closed');
    expect(server.output()).toMatch(/"msg":"stopped"/);
  });

  it(
    'ends a fill that does not end by itself (stuck on the disk) after a bound: reader cut, temporary file removed',
    LONG,
    async () => {
      const upstream = await UpstreamServer.start('hashed');
      cleanup.push(() => upstream.close());
      const name = 'stuck-1.0.tar.xz';
      const body = randomBytes(1024 * 1024);
      upstream.add(name, body, { rate: 500_000 });
      const disk = new StuckDiskIo();
      const portcache = await startPortcache({ PORTCACHE_MIRRORS: upstream.url }, { diskIo: disk });
      cleanup.push(() => portcache.close());

      const response = await request(distfileUrl(portcache.url, name));
      const { done } = reader(response.body as AsyncIterable<Buffer>);
      await waitForFillAt(portcache, name, 100_000);
      disk.stuck = true;
      await sleep(100);

      const closing = Date.now();
      await portcache.app.close();
      expect(Date.now() - closing).toBeLessThan(8000);
      expect(await Promise.race([done, sleep(5000).then(() => 'still reading')])).toBeInstanceOf(Error);
      expect(await readdir(tmpDirOf(portcache.cacheDir))).toEqual([]);
      expect(existsSync(committed(portcache.cacheDir, name))).toBe(false);
    },
  );
});
