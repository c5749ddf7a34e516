import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../src/common/layout.js';
import { CacheDirProbe, type ProbeFileSystem } from '../src/health/cache-dir-probe.js';
import { MirrorBalancer } from '../src/mirrors/mirror-balancer.service.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { scrapeMetrics } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';

const run = promisify(execFile);
const KiB = 1024;

interface Ready {
  status: string;
  details: Record<string, { status: string; cause?: string; reason?: string; error?: string }>;
}

async function getJson(url: string): Promise<{ status: number; body: Ready }> {
  const response = await request(url);
  return { status: response.statusCode, body: (await response.body.json()) as Ready };
}

/**
 * Makes `dir` read-only and writable again for real where this machine allows it: a tmpfs
 * mounted on it and remounted read-only (root with CAP_SYS_ADMIN), else the immutable flag
 * (root with CAP_LINUX_IMMUTABLE), else the mode bits (a non-root user). Where none of them
 * bite (root in a container without those capabilities), the probe's file operations fail
 * with EROFS instead: a fake, for the readiness logic only.
 */
async function readOnlySwitch(dir: string) {
  const asRoot = process.getuid?.() === 0;
  const mounted =
    asRoot && (await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]).then(ok, no));
  if (mounted) {
    return {
      how: 'read-only remount',
      set: (readOnly: boolean) => run('mount', ['-o', `remount,${readOnly ? 'ro' : 'rw'}`, dir]),
      fake: undefined,
      cleanup: () => run('umount', ['-l', dir]).then(ok, no),
    };
  }
  // The cache directory and the one fills start in.
  const dirs = () => [dir, join(dir, '.portcache', 'tmp')];
  if (asRoot && (await canMakeImmutable(dir))) {
    return {
      how: 'immutable flag',
      set: (readOnly: boolean) => run('chattr', [readOnly ? '+i' : '-i', ...dirs()]),
      fake: undefined,
      cleanup: () => run('chattr', ['-i', ...dirs()]).then(ok, no),
    };
  }
  if (!asRoot) {
    return {
      how: 'mode bits',
      set: (readOnly: boolean) => run('chmod', [readOnly ? 'a-w' : 'u+w', ...dirs()]),
      fake: undefined,
      cleanup: () => run('chmod', ['u+w', ...dirs()]).then(ok, no),
    };
  }
  return { how: 'EROFS from the probe (fake)', set: undefined, fake: true, cleanup: async () => false };
}

async function canMakeImmutable(dir: string): Promise<boolean> {
  const trial = join(dir, '.immutable-trial');
  await mkdir(trial);
  try {
    await run('chattr', ['+i', trial]);
  } catch {
    return false;
  }
  const bites = await writeFile(join(trial, 'x'), '').then(no, ok);
  await run('chattr', ['-i', trial]).catch(() => undefined);
  await rm(trial, { recursive: true, force: true });
  return bites;
}

/** A TCP server on 127.0.0.1 that closes every connection at once. */
async function hangUpServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const ok = () => true;
const no = () => false;

function failingWrites(real: ProbeFileSystem): ProbeFileSystem {
  const erofs = async () => {
    throw Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' });
  };
  return { ...real, writeFile: erofs, rename: erofs };
}

describe('probes', () => {
  const bed = new TestBed('portcache-probes-');
  let portcache: RunningPortcache | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    // A cache directory of the bed's is removed by the bed (after it is unmounted).
    await portcache?.close({ keepCacheDir: portcache.cacheDir.includes('portcache-probes-') });
    portcache = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await bed.close();
  });

  it('readiness flips when the cache directory becomes read-only, and back', async () => {
    const mirror = await bed.upstream();
    const cacheDir = await bed.tempDir();
    const readOnly = await readOnlySwitch(cacheDir);
    cleanups.push(readOnly.cleanup);
    console.info(`probes: the cache directory is made read-only by ${readOnly.how}`);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url }, { cacheDir });
    const probe = portcache.app.get(CacheDirProbe);
    const realFs = probe.fs;
    const makeReadOnly = async (on: boolean) => {
      if (readOnly.set) await readOnly.set(on);
      else probe.fs = on ? failingWrites(realFs) : realFs;
    };
    const ready = `${portcache.url}/health/ready`;

    const before = await getJson(ready);
    expect(before.status).toBe(200);
    expect(before.body.details.startup.status).toBe('up');
    expect(before.body.details.cache.status).toBe('up');
    expect((await scrapeMetrics(portcache.url)).get('portcache_ready')).toBe(1);

    await makeReadOnly(true);
    const down = await getJson(ready);
    expect(down.status).toBe(503);
    expect(down.body.details.cache.status).toBe('down');
    expect(down.body.details.cache.error).toMatch(/EROFS|EPERM|EACCES/);
    expect((await scrapeMetrics(portcache.url)).get('portcache_ready')).toBe(0);
    // Liveness does not look at the disk.
    expect((await request(`${portcache.url}/health/live`)).statusCode).toBe(200);

    await makeReadOnly(false);
    const back = await getJson(ready);
    expect(back.status).toBe(200);
    expect(back.body.details.cache.status).toBe('up');
    expect((await scrapeMetrics(portcache.url)).get('portcache_ready')).toBe(1);
  });

  it("every mirror's circuit open shows as degraded, with readiness still 200 and hits served", async () => {
    // Mirrors that accept connections and hang up before answering: a failure with no response.
    const mirrors = await Promise.all([hangUpServer(), hangUpServer()]);
    cleanups.push(() => Promise.all(mirrors.map((m) => m.close())));
    const cacheDir = await bed.tempDir();
    const cached = randomBytes(64 * KiB);
    const name = 'cached-1.0.tar.gz';
    await mkdir(join(cacheDir, blake2bPrefix(name)));
    await writeFile(join(cacheDir, blake2bPrefix(name), name), cached);
    portcache = await startPortcache(
      { PORTCACHE_MIRRORS: mirrors.map((m) => m.url).join(' ') },
      { cacheDir },
    );
    const url = (file: string) => `${portcache?.url}/distfiles/${file}`;

    const calm = await getJson(`${portcache.url}/health/ready`);
    expect(calm.status).toBe(200);
    expect(calm.body.details.mirrors).toMatchObject({ status: 'up', configured: 2, open: 0 });
    expect((await scrapeMetrics(portcache.url)).get('portcache_degraded{cause="mirrors_down"}')).toBe(0);

    // Three failures in a row open a mirror's circuit; each miss fails on both mirrors.
    for (const file of ['broken-1.0.tar.gz', 'broken-2.0.tar.gz', 'broken-3.0.tar.gz'])
      expect((await fetchDistfile(url(file))).status).toBeGreaterThanOrEqual(400);
    expect(
      portcache.app
        .get(MirrorBalancer)
        .snapshot()
        .map((m) => m.circuit),
    ).toEqual(['open', 'open']);

    const ready = await getJson(`${portcache.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.details.startup.status).toBe('up');
    expect(ready.body.details.cache.status).toBe('up');
    expect(ready.body.details.mirrors).toMatchObject({ status: 'degraded', cause: 'mirrors_down', open: 2 });
    const hosts = mirrors.map((m) => new URL(m.url).host);
    for (const host of hosts) expect(ready.body.details.mirrors.reason).toContain(host);

    const metrics = await scrapeMetrics(portcache.url);
    expect(metrics.get('portcache_ready')).toBe(1);
    expect(metrics.get('portcache_degraded{cause="mirrors_down"}')).toBe(1);
    for (const host of hosts) expect(metrics.get(`portcache_mirror_circuit_open{mirror="${host}"}`)).toBe(1);
    const hit = await fetchDistfile(url(name));
    expect(hit.status).toBe(200);
    expect(hit.body.equals(cached)).toBe(true);
  });

  it('a sync that keeps failing is degraded, not unready', async () => {
    const git = await hangUpServer();
    // A git run of the last sync attempt may still be writing here when the app has closed.
    const dataDir = await mkdtemp(join(tmpdir(), 'portcache-probes-data-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true, maxRetries: 10 }));
    cleanups.push(() => git.close());
    const mirror = await bed.upstream();
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_SYNC_REPOS: `${git.url}/gentoo.git`,
      PORTCACHE_SYNC_INTERVAL: '500ms',
      PORTCACHE_DATA_DIR: dataDir,
    });
    const ready = `${portcache.url}/health/ready`;
    // Two intervals without a successful sync (one failure is tolerated).
    let found = await getJson(ready);
    for (const deadline = Date.now() + 10_000; found.body.details.sync.status !== 'degraded'; ) {
      if (Date.now() > deadline) throw new Error(`sync not degraded: ${JSON.stringify(found.body)}`);
      await sleep(50);
      found = await getJson(ready);
    }
    expect(found.status).toBe(200);
    expect(found.body.details.sync).toMatchObject({ cause: 'sync_failing' });
    expect(found.body.details.sync.reason).toMatch(/^gentoo not synced since the start \d+ s ago$/);
    // The index lacks the repository it was told to sync.
    expect(found.body.details.index).toMatchObject({ status: 'degraded', cause: 'index_stale' });
    const metrics = await scrapeMetrics(portcache.url);
    expect(metrics.get('portcache_ready')).toBe(1);
    expect(metrics.get('portcache_degraded{cause="sync_failing"}')).toBe(1);
  });

  it('free space below the floor and an index without its configured repository are degraded, not unready', async () => {
    const mirror = await bed.upstream();
    const missingRepo = join(await bed.tempDir(), 'gone');
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: mirror.url,
      // No filesystem here has this much free: the floor is always under water.
      PORTCACHE_MIN_FREE: '1000000T',
      PORTCACHE_REPOS: missingRepo,
    });
    await portcache.app.get(SrcUriResolver).whenReady();

    const ready = await getJson(`${portcache.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.details.disk).toMatchObject({ status: 'degraded', cause: 'disk_low' });
    expect(ready.body.details.disk.reason).toContain('below the PORTCACHE_MIN_FREE');
    expect(ready.body.details.index).toMatchObject({
      status: 'degraded',
      cause: 'index_stale',
      reason: 'no repository is indexed',
    });
    const metrics = await scrapeMetrics(portcache.url);
    expect(metrics.get('portcache_ready')).toBe(1);
    expect(metrics.get('portcache_degraded{cause="disk_low"}')).toBe(1);
    expect(metrics.get('portcache_degraded{cause="index_stale"}')).toBe(1);
    expect(metrics.get('portcache_degraded{cause="mirrors_down"}')).toBe(0);
    expect(metrics.get('portcache_degraded{cause="sync_failing"}')).toBe(0);
    expect(metrics.get('portcache_filesystem_size_bytes')).toBeGreaterThan(0);
    expect(metrics.get('portcache_filesystem_free_bytes')).toBeGreaterThanOrEqual(0);
  });
});
