import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { distLine, scrapeMetrics } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

const KiB = 1024;

type Scrape = Map<string, number>;

/** Retries `check` on fresh scrapes (bounded): a request is counted once its response has closed. */
async function eventually(base: string, check: (metrics: Scrape) => void, timeoutMs = 5000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metrics = await scrapeMetrics(base);
    try {
      check(metrics);
      return metrics;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}

/** Runs `task` over `items`, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++]);
    }),
  );
}

describe('metrics', () => {
  const bed = new TestBed('portcache-metrics-');
  let portcache: RunningPortcache | undefined;

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  it('change as expected across a hit, a miss, a joined fill, a 404 and a verification failure', async () => {
    const mirror = await bed.upstream('hashed');
    const missBody = randomBytes(256 * KiB);
    const joinedBody = randomBytes(512 * KiB);
    mirror.add('miss-1.0.tar.gz', missBody);
    // Slow enough (about 1 s) for a second client to join the fill.
    mirror.add('joined-1.0.tar.gz', joinedBody, { rate: 512 * KiB });
    const good = randomBytes(128 * KiB);
    const bad = Buffer.from(good);
    bad[1000] ^= 0xff;
    const liar = (await bed.upstream('flat')).add('tampered-1.0.tar.gz', bad);
    const repo = await writeRepo(join(await bed.tempDir(), 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/tampered-1.0': `EAPI=8\nSRC_URI=${liar.url}/distfiles/tampered-1.0.tar.gz\n` },
      manifests: { 'app-misc/tampered': distLine('tampered-1.0.tar.gz', good) },
    });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
    await portcache.app.get(SrcUriResolver).whenReady();
    const base = portcache.url;
    const url = (name: string) => `${base}/distfiles/${name}`;
    const host = new URL(mirror.url).host;
    const before = await scrapeMetrics(base);
    const delta = (after: Scrape, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

    // A miss, then a hit (GET and HEAD) of the same file.
    expect((await fetchDistfile(url('miss-1.0.tar.gz'))).body.equals(missBody)).toBe(true);
    await waitForCommit(portcache, 'miss-1.0.tar.gz');
    expect((await fetchDistfile(url('miss-1.0.tar.gz'))).body.equals(missBody)).toBe(true);
    expect((await fetchDistfile(url('miss-1.0.tar.gz'), { method: 'HEAD' })).status).toBe(200);

    // A fill joined by a second client.
    const first = fetchDistfile(url('joined-1.0.tar.gz'));
    await waitForFillAt(portcache, 'joined-1.0.tar.gz', 1);
    const second = await fetchDistfile(url('joined-1.0.tar.gz'));
    expect(second.body.equals(joinedBody)).toBe(true);
    expect((await first).body.equals(joinedBody)).toBe(true);
    await waitForCommit(portcache, 'joined-1.0.tar.gz');

    // Nobody has it.
    expect((await fetchDistfile(url('nowhere-1.0.tar.gz'))).status).toBe(404);

    // Wrong bytes from the SRC_URI host: the client is cut off, the file quarantined.
    const tampered = await fetchDistfile(url('tampered-1.0.tar.gz'));
    expect(tampered.error).toBeDefined();

    const after = await eventually(base, (m) => {
      expect(delta(m, 'portcache_verification_failures_total{where="fill"}')).toBe(1);
      expect(delta(m, 'portcache_distfile_requests_total{result="miss",method="GET"}')).toBe(3);
      // The rejected fill ends after its client was cut off (its download before its verdict).
      expect(m.get('portcache_fills_active')).toBe(0);
      expect(delta(m, 'portcache_fills_total{result="not_found"}')).toBe(2);
    });
    const requests = (result: string, method = 'GET') =>
      delta(after, `portcache_distfile_requests_total{result="${result}",method="${method}"}`);
    expect(requests('hit')).toBe(1);
    expect(requests('hit', 'HEAD')).toBe(1);
    expect(requests('joined')).toBe(1);
    expect(requests('not_found')).toBe(1);

    // Bodies from the cache (the hit) and from fills (the miss may be committed before it is served).
    const fromCache = delta(after, 'portcache_response_bytes_total{source="cache"}');
    const fromFill = delta(after, 'portcache_response_bytes_total{source="fill"}');
    expect(fromCache).toBeGreaterThan(missBody.length);
    expect(fromFill).toBeGreaterThan(2 * joinedBody.length);
    expect(fromCache + fromFill).toBeGreaterThan(2 * missBody.length + 2 * joinedBody.length);
    expect(after.has('portcache_response_bytes_total{source="none"}')).toBe(false);

    expect(delta(after, 'portcache_fills_total{result="committed"}')).toBe(2);
    // The 404, and the tampered file once its only source was blamed for it.
    expect(delta(after, 'portcache_fills_total{result="not_found"}')).toBe(2);
    expect(delta(after, 'portcache_fills_total{result="rejected"}')).toBe(1);

    // The mirror: the miss, the joined fill and the 404 (an answer, not an error).
    const mirrorLabel = `{mirror="${host}"}`;
    expect(delta(after, `portcache_upstream_requests_total${mirrorLabel}`)).toBe(3);
    expect(delta(after, `portcache_upstream_errors_total${mirrorLabel}`)).toBe(0);
    expect(delta(after, `portcache_upstream_ttfb_seconds_count${mirrorLabel}`)).toBe(3);
    expect(delta(after, `portcache_upstream_duration_seconds_count${mirrorLabel}`)).toBe(3);
    expect(delta(after, `portcache_upstream_duration_seconds_sum${mirrorLabel}`)).toBeGreaterThan(0.5);
    expect(delta(after, `portcache_upstream_bytes_total${mirrorLabel}`)).toBe(
      missBody.length + joinedBody.length,
    );
    // The SRC_URI host, under one label for all of them.
    expect(delta(after, 'portcache_upstream_requests_total{mirror="src_uri"}')).toBe(1);
    expect(delta(after, 'portcache_upstream_bytes_total{mirror="src_uri"}')).toBe(bad.length);
    expect(delta(after, 'portcache_upstream_ttfb_seconds_count{mirror="src_uri"}')).toBe(1);

    expect(after.get(`portcache_mirror_score_ms${mirrorLabel}`)).toBeGreaterThan(0);
    expect(after.get(`portcache_mirror_circuit_open${mirrorLabel}`)).toBe(0);
    expect(delta(after, 'portcache_cache_files')).toBe(2);
    expect(delta(after, 'portcache_cache_bytes')).toBe(missBody.length + joinedBody.length);
    expect(after.get('portcache_fills_queued')).toBe(0);

    expect(after.get('portcache_index_distfiles')).toBe(1);
    expect(after.get('portcache_index_build_seconds')).toBeGreaterThanOrEqual(0);
    expect(after.get('portcache_index_age_seconds')).toBeLessThan(60);
    expect(after.get('portcache_ready')).toBe(1);
    expect(after.get('portcache_degraded{cause="mirrors_down"}')).toBe(0);
    expect(after.get('portcache_degraded{cause="index_stale"}')).toBe(0);
    expect(after.get('portcache_filesystem_size_bytes')).toBeGreaterThan(0);
    // PORTCACHE_MAX_SIZE is unset: no limit to report, rather than a limit of 0.
    expect(after.has('portcache_cache_limit_bytes')).toBe(false);
    expect(after.get('portcache_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('report the cache size limit when there is one', async () => {
    const mirror = await bed.upstream();
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_MAX_SIZE: '3G' });
    expect((await scrapeMetrics(portcache.url)).get('portcache_cache_limit_bytes')).toBe(3 * 1024 ** 3);
  });

  it('1,000 distinct files add no series', async () => {
    const mirror = await bed.upstream('hashed');
    const hosts = [await bed.upstream('flat'), await bed.upstream('flat')];
    const body = (i: number) => Buffer.from(`distfile number ${i}\n`.repeat(8));
    const onMirror = Array.from({ length: 451 }, (_, i) => `mirrored-${i}.tar.gz`);
    const nowhere = Array.from({ length: 451 }, (_, i) => `nowhere-${i}.tar.gz`);
    const fromSrcUri = Array.from({ length: 101 }, (_, i) => `srcuri-${i}.tar.gz`);
    for (const [i, name] of onMirror.entries()) mirror.add(name, body(i));
    const entries: Record<string, string> = {};
    const manifests: Record<string, string> = {};
    fromSrcUri.forEach((name, i) => {
      const host = hosts[i % 2].add(name, body(i));
      entries[`app-misc/srcuri${i}-1.0`] = `EAPI=8\nSRC_URI=${host.url}/distfiles/${name}\n`;
      manifests[`app-misc/srcuri${i}`] = distLine(name, body(i));
    });
    const repo = await writeRepo(join(await bed.tempDir(), 'overlay'), {
      name: 'overlay',
      entries,
      manifests,
    });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
    await portcache.app.get(SrcUriResolver).whenReady();
    const base = portcache.url;
    const get = async (name: string, method: 'GET' | 'HEAD' = 'GET') =>
      (await fetchDistfile(`${base}/distfiles/${name}`, { method })).status;

    // One file of each kind first: every label value these requests can produce exists from here on.
    const [firstMirrored, firstNowhere, firstSrcUri] = [onMirror.pop(), nowhere.pop(), fromSrcUri.pop()];
    for (const name of [firstMirrored, firstNowhere, firstSrcUri] as string[]) await get(name);
    await waitForCommit(portcache, firstMirrored as string);
    expect(await get(firstMirrored as string)).toBe(200);
    expect(await get(firstMirrored as string, 'HEAD')).toBe(200);
    const seriesOf = (metrics: Scrape) =>
      [...metrics.keys()].filter((key) => !/^portcache_(process|nodejs)_/.test(key)).sort();
    const before = await eventually(base, (m) =>
      expect(m.get('portcache_distfile_requests_total{result="hit",method="HEAD"}')).toBe(1),
    );

    const names = [...onMirror, ...nowhere, ...fromSrcUri];
    expect(names).toHaveLength(1000);
    await inParallel(names, 8, async (name) => {
      const status = await get(name);
      if (name.startsWith('nowhere-')) expect(status).toBe(404);
      else expect(status).toBe(200);
    });
    // And hits of some of them, GET and HEAD.
    for (const name of onMirror.slice(0, 50)) await waitForCommit(portcache, name);
    await inParallel(onMirror.slice(0, 50), 8, async (name) => {
      expect(await get(name)).toBe(200);
      expect(await get(name, 'HEAD')).toBe(200);
    });

    const after = await eventually(base, (m) =>
      expect(m.get('portcache_distfile_requests_total{result="hit",method="HEAD"}')).toBe(51),
    );
    expect(after.get('portcache_distfile_requests_total{result="not_found",method="GET"}')).toBe(451);
    expect(after.get('portcache_upstream_requests_total{mirror="src_uri"}')).toBe(101);
    expect(seriesOf(after)).toEqual(seriesOf(before));
    // No label value names a file or a URL.
    for (const key of after.keys())
      expect(key).not.toMatch(/="[^"]*(mirrored-|nowhere-|srcuri-|\.tar\.gz|\/)/);
  });
});
