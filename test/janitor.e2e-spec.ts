import { type ChildProcess, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../src/common/layout.js';
import type { JanitorReport } from '../src/janitor/janitor-report.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { spawnServer } from './support/spawn-server.js';
import { distLine } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit } from './support/wait.js';

const TOKEN = 'janitor-test-token-0123456789';
const MiB = 1024 * 1024;
const CLI_JS = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('JanitorScheduler', () => {
  let portcache: RunningPortcache | undefined;
  const bed = new TestBed('portcache-janitor-');
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  async function upstream(files: Record<string, Buffer>) {
    const server = await bed.upstream('hashed');
    for (const [name, body] of Object.entries(files)) server.add(name, body);
    return server;
  }

  async function start(env: Record<string, string>) {
    portcache = await startPortcache({ PORTCACHE_ADMIN_TOKEN: TOKEN, ...env });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const url = (name: string) => `${portcache?.url}/distfiles/${name}`;

  async function fill(name: string) {
    const fetched = await fetchDistfile(url(name));
    expect(fetched.status).toBe(200);
    await waitForCommit(portcache as RunningPortcache, name);
    await sleep(5); // distinct request times
  }

  async function api(method: 'GET' | 'POST', path: string): Promise<JanitorReport> {
    const response = await request(`${portcache?.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.statusCode).toBe(200);
    return (await response.body.json()) as JanitorReport;
  }

  const cached = (name: string) => existsSync(join(portcache?.cacheDir ?? '', blake2bPrefix(name), name));

  function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, PORTCACHE_URL: portcache?.url, PORTCACHE_ADMIN_TOKEN: TOKEN };
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_JS, ...args], { env }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it('evicts the least recently requested files past PORTCACHE_MAX_SIZE, down to the low watermark', async () => {
    const names = ['a-1.tar.gz', 'b-1.tar.gz', 'c-1.tar.gz', 'd-1.tar.gz', 'e-1.tar.gz'];
    const mirror = await upstream(Object.fromEntries(names.map((name) => [name, randomBytes(MiB)])));
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_MAX_SIZE: '3.5M' });
    for (const name of names) await fill(name);
    expect((await fetchDistfile(url('a-1.tar.gz'))).status).toBe(200); // a is now the most recent

    const plan = await api('GET', '/api/v1/janitor/plan');
    expect(plan.dryRun).toBe(true);
    // 5 MiB > 3.5 MiB: down to 90 % of it (3.15 MiB), oldest request first.
    expect(plan.evictions.map((e) => [e.name, e.reason])).toEqual([
      ['b-1.tar.gz', 'size'],
      ['c-1.tar.gz', 'size'],
    ]);
    expect(plan.byReason.size).toEqual({ files: 2, bytes: 2 * MiB });
    expect(names.every(cached)).toBe(true); // a dry run changes nothing
    const dry = await cli(['gc', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run, nothing removed');
    expect(dry.stdout).toMatch(/size +2 files +2\.0 MiB/);
    expect(dry.stdout).toContain('b-1.tar.gz');

    const run = await cli(['gc']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('removed: 2 files, 2.0 MiB');
    expect(names.filter(cached)).toEqual(['a-1.tar.gz', 'd-1.tar.gz', 'e-1.tar.gz']);
    expect((await fetchDistfile(url('d-1.tar.gz'))).status).toBe(200);
    expect(mirror.requestsFor('d-1.tar.gz')).toHaveLength(1); // still a hit

    const metrics = await (await request(`${portcache?.url}/metrics`)).body.text();
    expect(metrics).toContain('portcache_evicted_files_total{reason="size"} 2');
    expect(metrics).toContain(`portcache_evicted_bytes_total{reason="size"} ${2 * MiB}`);
    expect(metrics).toContain(`portcache_cache_bytes ${3 * MiB}`);
    expect(metrics).toContain('portcache_cache_files 3');
    expect(metrics).toMatch(/portcache_janitor_run_seconds_count 1/);
    expect((await api('GET', '/api/v1/janitor/plan')).evictions).toEqual([]);
  });

  it('runs by itself when free space is below the floor as the cache grows', async () => {
    const mirror = await upstream({
      'first-1.tar.gz': randomBytes(MiB),
      'second-1.tar.gz': randomBytes(MiB),
    });
    // A floor no test machine has free: every growth of the cache finds it below.
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_MIN_FREE: '99.99%' });
    // Each commit is followed by a run that evicts what the cache holds (the floor stays out of reach).
    expect((await fetchDistfile(url('first-1.tar.gz'))).status).toBe(200);
    expect((await fetchDistfile(url('second-1.tar.gz'))).status).toBe(200);
    const evicted = async () => {
      const metrics = await (await request(`${portcache?.url}/metrics`)).body.text();
      return Number(/portcache_evicted_files_total\{reason="free-space"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    for (const deadline = Date.now() + 5000; Date.now() < deadline && (await evicted()) < 2; )
      await sleep(20);
    expect(await evicted()).toBe(2);
    expect(cached('first-1.tar.gz') || cached('second-1.tar.gz')).toBe(false);
  });

  it('lets a client that is reading a file the janitor deletes read it to the end', async () => {
    const body = randomBytes(16 * MiB);
    const mirror = await upstream({ 'big-1.tar.gz': body });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_MAX_SIZE: '1M' });
    await fill('big-1.tar.gz');
    const response = await request(url('big-1.tar.gz'));
    expect(response.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    const reader = response.body[Symbol.asyncIterator]();
    chunks.push((await reader.next()).value as Buffer); // reading has begun; the client pauses
    const run = await api('POST', '/api/v1/janitor/run');
    expect(run.removed?.files).toBe(1);
    expect(cached('big-1.tar.gz')).toBe(false);
    for (let next = await reader.next(); !next.done; next = await reader.next())
      chunks.push(next.value as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(sha(body));
  });

  it('removes files no Manifest references after the grace period, never one requested within it, at most 10 % of the cache per run', async () => {
    const known = randomBytes(2 * MiB);
    const files = {
      'known-1.tar.gz': known,
      'gone-1.tar.gz': randomBytes(100_000),
      'used-1.tar.gz': randomBytes(100_000),
      'huge-1.tar.gz': randomBytes(600_000),
    };
    const mirror = await upstream(files);
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'app-misc/known-1': 'EAPI=8\nSRC_URI=mirror://gentoo/known-1.tar.gz\n' },
      manifests: { 'app-misc/known': distLine('known-1.tar.gz', known) },
    });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo, PORTCACHE_UNREFERENCED_GRACE: '1s' });
    for (const name of Object.keys(files)) await fill(name);

    const first = await api('POST', '/api/v1/janitor/run');
    expect(first.index).toEqual({ usable: true });
    expect(first.removed?.files).toBe(0); // just marked
    const marks = await readFile(join(portcache?.cacheDir ?? '', '.portcache', 'unreferenced'), 'utf8');
    for (const name of ['gone-1.tar.gz', 'used-1.tar.gz', 'huge-1.tar.gz']) expect(marks).toContain(name);
    expect(marks).not.toContain('known-1.tar.gz');

    await sleep(1200);
    expect((await fetchDistfile(url('used-1.tar.gz'))).status).toBe(200); // requested within the grace
    const second = await api('POST', '/api/v1/janitor/run');
    // 10 % of 2.7 MiB: gone fits, huge does not; it waits for a later run, loudly.
    expect(second.evictions.map((e) => [e.name, e.reason])).toEqual([['gone-1.tar.gz', 'unreferenced']]);
    expect(second.unreferencedCapped).toBe(true);
    expect(second.notes.join('\n')).toMatch(/capped/);
    expect(Object.keys(files).filter(cached)).toEqual(['known-1.tar.gz', 'used-1.tar.gz', 'huge-1.tar.gz']);
  });

  it('never removes a file as unreferenced when no repository is indexed', async () => {
    const mirror = await upstream({ 'lonely-1.tar.gz': randomBytes(1000) });
    await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_UNREFERENCED_GRACE: '1ms' });
    await fill('lonely-1.tar.gz');
    await sleep(10);
    const report = await api('POST', '/api/v1/janitor/run');
    expect(report.index.usable).toBe(false);
    expect(report.notes.join('\n')).toMatch(/unreferenced/);
    expect(cached('lonely-1.tar.gz')).toBe(true);
  });

  it('never overlaps runs, and sweeps temporary files of no running fill but not a running fill', async () => {
    const body = randomBytes(2 * MiB);
    const mirror = await bed.upstream('hashed');
    mirror.add('slow-1.tar.gz', body, { rate: 1_000_000 });
    await start({ PORTCACHE_MIRRORS: mirror.url });
    const stray = join(portcache?.cacheDir ?? '', '.portcache', 'tmp', 'deadbeef.part');
    await writeFile(stray, 'left by a fill whose process died');
    const download = fetchDistfile(url('slow-1.tar.gz'));
    await sleep(300); // the fill is under way
    const [one, two] = await Promise.all([
      api('POST', '/api/v1/janitor/run'),
      api('POST', '/api/v1/janitor/run'),
    ]);
    expect(two.at).toBe(one.at); // the second joined the first
    expect(one.leftovers).toEqual({ files: 1, bytes: 33 });
    expect(existsSync(stray)).toBe(false);
    const fetched = await download;
    expect(fetched.error).toBeUndefined();
    expect(sha(fetched.body)).toBe(sha(body));
    await waitForCommit(portcache as RunningPortcache, 'slow-1.tar.gz');
  });

  it('picks up after a run killed half-way: the next run simply works', { timeout: 60_000 }, async () => {
    const cacheDir = await bed.tempDir();
    const names = Array.from({ length: 3000 }, (_, i) => `hand-${i}.tar.gz`);
    for (const name of names) {
      await mkdir(join(cacheDir, blake2bPrefix(name)), { recursive: true });
      await writeFile(join(cacheDir, blake2bPrefix(name), name), randomBytes(1024));
    }
    const env = {
      PORTCACHE_CACHE_DIR: cacheDir,
      PORTCACHE_MIRRORS: 'http://127.0.0.1:1',
      PORTCACHE_MAX_SIZE: '1K',
      PORTCACHE_ADMIN_TOKEN: TOKEN,
      PORTCACHE_DATA_DIR: join(cacheDir, '..', 'data'),
    };
    const countLeft = async () => {
      let n = 0;
      for (const prefix of await readdir(cacheDir)) {
        if (/^[0-9a-f]{2}$/.test(prefix)) n += (await readdir(join(cacheDir, prefix))).length;
      }
      return n;
    };
    const first = await spawnServer(env);
    children.push(first.child);
    const post = (base: string) =>
      request(`${base}/api/v1/janitor/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    // Wait until startup hashing took every file in (the plan sees them all).
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      const plan = (await (await request(`${first.url}/api/v1/janitor/plan`)).body.json()) as JanitorReport;
      if (plan.cache.files === names.length) break;
    }
    void post(first.url).catch(() => undefined);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(5)) {
      if ((await countLeft()) < names.length) break;
    }
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const left = await countLeft();
    expect(left).toBeGreaterThan(0); // killed half-way
    expect(left).toBeLessThan(names.length);

    const second = await spawnServer(env);
    children.push(second.child);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100)) {
      const plan = (await (await request(`${second.url}/api/v1/janitor/plan`)).body.json()) as JanitorReport;
      if (plan.cache.files === left) break;
    }
    const response = await post(second.url);
    expect(response.statusCode).toBe(200);
    const report = (await response.body.json()) as JanitorReport;
    // 90 % of 1 KiB holds no 1 KiB file: every one goes.
    expect(report.removed?.files).toBe(left);
    expect(await countLeft()).toBe(0);
  });
});
