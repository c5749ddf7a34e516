import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatsReport } from '../src/admin/stats.service.js';
import { CacheStore } from '../src/cache/cache-store.service.js';
import type { FillProgress } from '../src/fills/fill.service.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { GatedUpstream } from './support/gated-upstream.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

const TOKEN = 'admin-stats-test-token-0123456789';
const CLI_JS = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const MiB = 1024 * 1024;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function getJson<T>(url: string): Promise<T> {
  const response = await request(url, { signal: AbortSignal.timeout(5000) });
  expect(response.statusCode).toBe(200);
  return (await response.body.json()) as T;
}

/** Waits (bounded) until `check` holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20))
    if (await check()) return;
  throw new Error(`timed out waiting until ${what}`);
}

describe('admin API: stats, fills, status, tokens', () => {
  let portcache: RunningPortcache | undefined;
  let gated: GatedUpstream | undefined;
  const bed = new TestBed('portcache-admin-stats-');

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await gated?.stop();
    gated = undefined;
    await bed.close();
  });

  async function start(env: Record<string, string>) {
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), { name: 'gentoo' });
    portcache = await startPortcache({ PORTCACHE_REPOS: repo, ...env });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, PORTCACHE_URL: portcache?.url, PORTCACHE_ADMIN_TOKEN: TOKEN };
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_JS, ...args], { env, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it('stats and fills answer correctly during a fill and after it; portcache status shows them readably and as JSON', async () => {
    const name = 'stats-1.0.tar.gz';
    const body = randomBytes(2 * MiB);
    // 1 MiB, then a 4 s pause (the fill is looked at then), then the rest.
    gated = (await GatedUpstream.start()).add(name, body, {
      bytesPerSecond: 8 * MiB,
      pauseAt: MiB,
      pauseMs: 4000,
    });
    const running = await start({
      PORTCACHE_MIRRORS: gated.url,
      PORTCACHE_MAX_SIZE: '1G',
      PORTCACHE_ADMIN_TOKEN: TOKEN,
    });
    const api = (path: string) => `${running.url}/api/v1/${path}`;
    const url = `${running.url}/distfiles/${name}`;

    expect(await getJson<FillProgress[]>(api('fills'))).toEqual([]);
    const first = fetchDistfile(url);
    await waitForFillAt(running, name, 256 * 1024);
    const joined = fetchDistfile(url);
    await waitForFillAt(running, name, MiB);
    await until(
      'both clients read the fill',
      async () => (await getJson<FillProgress[]>(api('fills')))[0]?.clients === 2,
    );

    const during = await getJson<FillProgress[]>(api('fills'));
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({
      name,
      source: `${gated.url}/distfiles/${name}`,
      status: 'filling',
      written: MiB,
      expectedSize: 2 * MiB,
      clients: 2,
    });
    expect(during[0].bytesPerSecond).toBeGreaterThan(0);
    // Nothing has finished yet: no request is counted.
    const statsDuring = await getJson<StatsReport>(api('stats'));
    expect(statsDuring.sinceStart.requests).toBe(0);
    expect(statsDuring.sinceStart.hitRatio).toBeNull();

    const statusDuring = await cli(['status']);
    expect(statusDuring.code, statusDuring.stderr).toBe(0);
    expect(statusDuring.stdout).toContain('Fills (1):');
    expect(statusDuring.stdout).toMatch(/\[#{12}-{12}\]\s+50\.0%\s+1\.0 MiB of 2\.0 MiB/);
    expect(statusDuring.stdout).toContain('2 clients');
    expect(statusDuring.stdout).toContain(`from ${gated.url}/distfiles/${name}`);

    for (const response of await Promise.all([first, joined])) {
      expect(response.error).toBeUndefined();
      expect(sha(response.body)).toBe(sha(body));
    }
    await waitForCommit(running, name);
    await until(
      'the fill is gone from the list',
      async () => (await getJson<FillProgress[]>(api('fills'))).length === 0,
    );
    await until(
      'both requests are counted',
      async () => (await getJson<StatsReport>(api('stats'))).sinceStart.requests === 2,
    );
    const hit = await fetchDistfile(url);
    expect(sha(hit.body)).toBe(sha(body));
    await until(
      'the hit is counted',
      async () => (await getJson<StatsReport>(api('stats'))).sinceStart.requests === 3,
    );

    const stats = await getJson<StatsReport>(api('stats'));
    for (const period of [stats.sinceStart, stats.last24h]) {
      expect(period.byResult).toMatchObject({ hit: 1, miss: 1, joined: 1 });
      expect(period.hitRatio).toBeCloseTo(1 / 3);
      // Each response is the file and its headers.
      expect(period.bytesBySource.fill).toBeGreaterThan(4 * MiB);
      expect(period.bytesBySource.fill).toBeLessThan(4 * MiB + 4096);
      expect(period.bytesBySource.cache).toBeGreaterThan(2 * MiB);
      expect(period.bytesBySource.cache).toBeLessThan(2 * MiB + 2048);
      // What the joined client and the hit got did not cross the upstream link again.
      const joinedBytes = period.bytesSavedUpstream - period.bytesBySource.cache;
      expect(joinedBytes).toBeGreaterThan(2 * MiB);
      expect(joinedBytes).toBeLessThan(2 * MiB + 2048);
    }
    expect(stats.topFiles24h).toEqual([{ name, requests: 3, bytes: expect.any(Number) }]);
    expect(stats.cache).toMatchObject({ files: 1, bytes: 2 * MiB, limitBytes: 1024 * MiB });
    expect(stats.cache.filesystem?.sizeBytes).toBeGreaterThan(0);
    expect(stats.cache.headroomBytes).toBe(1022 * MiB);
    expect(stats.note).toContain('bytesSavedUpstream');

    const status = await cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.trimStart().startsWith('{')).toBe(false);
    expect(status.stdout).toContain(`portcache at ${running.url}: ready`);
    expect(status.stdout).toMatch(/hit ratio\s+33\.3%\s+33\.3%/);
    expect(status.stdout).toMatch(/saved upstream\s+4\.0 MiB\s+4\.0 MiB/);
    expect(status.stdout).toMatch(/Cache: 1 files, 2\.0 MiB/);
    expect(status.stdout).toMatch(/limit 1\.0 GiB .* 0\.2% used/);
    expect(status.stdout).toMatch(new RegExp(`3 req\\s+6\\.0 MiB\\s+${name.replaceAll('.', '\\.')}`));
    expect(status.stdout).toContain('Fills: none running');

    const json = await cli(['status', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      ready: { status: string };
      stats: StatsReport;
      fills: FillProgress[];
    };
    expect(parsed.ready.status).toBe('ok');
    expect(parsed.stats.sinceStart.byResult.hit).toBe(1);
    expect(parsed.fills).toEqual([]);
  });

  it('every call that changes something refuses without the token, with a wrong one, and when no token is configured', async () => {
    const name = 'guarded-1.0.tar.gz';
    const body = randomBytes(64 * 1024);
    gated = (await GatedUpstream.start()).add(name, body);
    const dir = await bed.tempDir();
    const calls: Array<{
      method: 'PUT' | 'DELETE' | 'POST';
      path: string;
      body?: Buffer | string;
      type?: string;
    }> = [
      { method: 'PUT', path: `distfiles/${name}?unverified=1`, body, type: 'application/octet-stream' },
      { method: 'DELETE', path: `distfiles/${name}` },
      { method: 'POST', path: 'janitor/run' },
      {
        method: 'POST',
        path: 'import',
        body: JSON.stringify({ dir, unverified: true }),
        type: 'application/json',
      },
    ];
    const send = async (call: (typeof calls)[number], authorization?: string) => {
      const headers: Record<string, string> = {};
      if (authorization) headers.authorization = authorization;
      if (call.type) headers['content-type'] = call.type;
      const response = await request(`${portcache?.url}/api/v1/${call.path}`, {
        method: call.method,
        headers,
        body: call.body,
        signal: AbortSignal.timeout(5000),
      });
      return { status: response.statusCode, text: await response.body.text() };
    };

    // No token configured: disabled.
    await start({ PORTCACHE_MIRRORS: gated.url });
    for (const call of calls) {
      const answer = await send(call, `Bearer ${TOKEN}`);
      expect({ call: `${call.method} ${call.path}`, status: answer.status }).toEqual({
        call: `${call.method} ${call.path}`,
        status: 403,
      });
      expect(answer.text).toContain('PORTCACHE_ADMIN_TOKEN');
    }
    await portcache?.close();

    const running = await start({ PORTCACHE_MIRRORS: gated.url, PORTCACHE_ADMIN_TOKEN: TOKEN });
    expect((await fetchDistfile(`${running.url}/distfiles/${name}`)).status).toBe(200);
    await waitForCommit(running, name);
    const store = running.app.get(CacheStore);
    const before = store.get(name);
    for (const authorization of [undefined, 'Bearer wrong-token-wrong-token-00', `Basic ${TOKEN}`]) {
      for (const call of calls) {
        const answer = await send(call, authorization);
        expect({ call: `${call.method} ${call.path}`, authorization, status: answer.status }).toEqual({
          call: `${call.method} ${call.path}`,
          authorization,
          status: 401,
        });
      }
    }
    // Nothing changed.
    expect(store.get(name)).toBe(before);
    expect(store.count).toBe(1);
    // The right token works for each.
    for (const call of calls) {
      const answer = await send(call, `Bearer ${TOKEN}`);
      expect({ call: `${call.method} ${call.path}`, ok: answer.status < 300 }).toEqual({
        call: `${call.method} ${call.path}`,
        ok: true,
      });
    }
  });
});
