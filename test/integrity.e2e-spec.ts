import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheStore } from '../src/cache/cache-store.service.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { FIXTURE_REPOS, writeRepo } from '../src/repository/testing/fixture-repos.js';
import { replicateRepo } from '../src/repository/testing/replicate.js';
import { holdCommits } from './support/hold-commits.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import {
  type BalancerEntry,
  blamed,
  cleanAndWrong,
  digestOf,
  distLine,
  fetchOutcome,
  getJson,
  mentions,
  type Outcome,
  until,
} from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit, waitForFillOver } from './support/wait.js';

const MiB = 1024 * 1024;
const TOKEN = 'integrity-test-token-0123456789';

interface Explained {
  index: { ready: boolean; known: boolean };
  cache: { cached: boolean; filling: boolean; BLAKE2B?: string; matchesIndex?: boolean | string | null };
}

/** A copy of `truth` with one byte flipped at each of `positions`: same size, wrong bytes. */
function corrupt(truth: Buffer, ...positions: number[]): Buffer {
  const lie = Buffer.from(truth);
  for (const position of positions) lie[position] ^= 0xff;
  return lie;
}

/** What the responses that ended cleanly with bytes other than the truth were, for the failure message. */
function cleanWrong(outcomes: Outcome[], truth: Buffer): string[] {
  return outcomes
    .filter((outcome) => cleanAndWrong(outcome, truth))
    .map(
      (o) =>
        `${o.label}: HTTP ${o.status} ${o.headers['content-range'] ?? ''} ${o.body.length} bytes ended cleanly with wrong bytes`,
    );
}

describe('integrity against a mirror that serves the right size with wrong bytes', () => {
  let portcache: RunningPortcache | undefined;
  const bed = new TestBed('portcache-integrity-');

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  const upstream = (layout: 'hashed' | 'flat' = 'hashed') => bed.upstream(layout);

  const api = (path: string) => `${portcache?.url}/api/v1/${path}`;
  const explain = (name: string) => getJson<Explained>(api(`distfiles/${name}`));

  async function quarantined(): Promise<string[]> {
    const dir = join(portcache?.cacheDir ?? '', '.portcache', 'quarantine');
    const found: string[] = [];
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      found.push(...(await readdir(join(dir, entry))).filter((file) => file !== 'why'));
    }
    return found;
  }

  it('ends no response cleanly with wrong bytes (full, ranges, suffix, far-ahead, late joiners) during the lying fill; caches the truth, quarantines the lie, blames the mirror and not the honest host', async () => {
    const SIZE = 6 * MiB;
    const LIAR_RATE = 2_500_000; // ≈ 2.5 s for the whole lie
    const truth = randomBytes(SIZE);
    const FLIP_EARLY = MiB + 17;
    const FLIP_LATE = SIZE - 1000;
    const lie = corrupt(truth, FLIP_EARLY, FLIP_LATE);
    const name = 'lied-about-1.0.tar.gz';
    const liar = (await upstream('hashed')).add(name, lie, { rate: LIAR_RATE });
    const honest = (await upstream('flat')).add(name, truth, { rate: 8_000_000 });
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'app-misc/lied-about-1.0': `EAPI=8\nSRC_URI=${honest.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/lied-about': distLine(name, truth) },
    });
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: liar.url,
      PORTCACHE_REPOS: repo,
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
      PORTCACHE_ADMIN_TOKEN: TOKEN,
      // Far-ahead: beyond what the fill reaches within 1.5 s (≈ 3.75 MB ahead at the liar's rate).
      PORTCACHE_STALL_TIMEOUT: '3s',
    });
    await portcache.app.get(SrcUriResolver).whenReady();
    const url = `${portcache.url}/distfiles/${name}`;
    const sent: Array<Promise<Outcome>> = [];
    const send = (label: string, range?: string) =>
      sent.push(fetchOutcome(url, { label, headers: range ? { range } : undefined, timeoutMs: 20_000 }));

    send('full GET that starts the fill');
    await until('the lying mirror is asked', () => liar.requestsFor(name).length > 0, 5000);
    const liarStarted = Date.now();
    await sleep(150);
    // Beyond the fill's reach: served from their own upstream request (DirectRange).
    send('far-ahead range', `bytes=${SIZE - 300_000}-`);
    send('suffix range over the late flipped byte', 'bytes=-4096');
    send('late joiner 1');
    await sleep(250);
    send('late joiner 2');
    // Ranges that end mid-file and hold the early flipped byte.
    send('first 2 MiB', 'bytes=0-2097151');
    send('2000 bytes around the early flipped byte', 'bytes=1048000-1049999');
    for (const joiner of [3, 4, 5]) {
      await sleep(300);
      send(`late joiner ${joiner}`);
    }
    // Every request went out while the lying mirror was still sending.
    expect(Date.now() - liarStarted).toBeLessThan((SIZE / LIAR_RATE) * 1000 - 300);

    const outcomes = await Promise.all(sent);
    expect(cleanWrong(outcomes, truth)).toEqual([]);

    // After the dust settles: the truth is cached and served as a hit.
    // Its fill holds the name (the DELETE below) until its commit is durable.
    await waitForFillOver(portcache, name, 15_000);
    const explained = await explain(name);
    expect(explained.cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
    expect(explained.cache.matchesIndex).toBe(true);
    const upstreamAsked = liar.requests.length + honest.requests.length;
    const hit = await fetchOutcome(url, { label: 'hit' });
    expect(hit.clean).toBe(true);
    expect(hit.body.equals(truth)).toBe(true);
    expect(liar.requests.length + honest.requests.length).toBe(upstreamAsked);
    expect(await quarantined()).toContain(name);

    // The lying mirror is blamed where an admin looks; the honest host is not.
    const mirrors = await getJson<BalancerEntry[]>(api('mirrors'));
    const liarEntry = mirrors.find((entry) => entry.url === liar.url) as BalancerEntry;
    expect(liarEntry, JSON.stringify(mirrors)).toBeDefined();
    expect(blamed(liarEntry, name), `the liar in /api/v1/mirrors: ${JSON.stringify(liarEntry)}`).toBe(true);
    const hosts = await getJson<BalancerEntry[]>(api('hosts'));
    const honestEntry = hosts.find((entry) => entry.url === honest.url) as BalancerEntry;
    expect(honestEntry, JSON.stringify(hosts)).toBeDefined();
    expect(honestEntry).toMatchObject({ circuit: 'closed', consecutiveFailures: 0, failures: 0 });
    expect(mentions(honestEntry, name)).toBe(false);
    expect(honestEntry.badFiles ?? 0).toBe(0);

    // And the blame holds: fetched again, the file comes from the honest host, not the liar.
    const removed = await request(api(`distfiles/${name}`), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(removed.statusCode).toBe(200);
    await removed.body.dump();
    const liarAsked = liar.requestsFor(name).length;
    const again = await fetchOutcome(url, { label: 'after DELETE' });
    expect(again.clean).toBe(true);
    expect(again.body.equals(truth)).toBe(true);
    expect(liar.requestsFor(name)).toHaveLength(liarAsked);
  });

  // What the hold-back waits for is the check, not the durable commit (fsyncs, rename) after it.
  // (A far-ahead range is proven against the committed file: it still waits for the commit.)
  it('ends the responses of a file that passed its check while its commit still runs', async () => {
    const truth = randomBytes(2 * MiB);
    const name = 'passed-1.0.tar.gz';
    const mirror = (await upstream()).add(name, truth, { rate: 8_000_000 });
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'app-misc/passed-1.0': `EAPI=8\nSRC_URI=${mirror.url}/distfiles/${name}\n` },
      manifests: { 'app-misc/passed': distLine(name, truth) },
    });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
    await portcache.app.get(SrcUriResolver).whenReady();
    const store = portcache.app.get(CacheStore);
    const letCommit = holdCommits(store);
    const url = `${portcache.url}/distfiles/${name}`;
    try {
      const [full, head] = await Promise.all([
        fetchOutcome(url, { label: 'full', timeoutMs: 10_000 }),
        fetchOutcome(url, { label: 'first KiB', headers: { range: 'bytes=0-1023' }, timeoutMs: 10_000 }),
      ]);
      expect(full.clean).toBe(true);
      expect(full.body.equals(truth)).toBe(true);
      expect(head.clean).toBe(true);
      expect(head.body.equals(truth.subarray(0, 1024))).toBe(true);
      expect(store.get(name)).toBeUndefined(); // still committing
    } finally {
      letCommit();
    }
    await waitForCommit(portcache, name);
    expect(mirror.requestsFor(name)).toHaveLength(1);
  });

  describe('while the index is still building', () => {
    const COPIES = 10;
    let replica = '';

    beforeAll(async () => {
      replica = join(await mkdtemp(join(tmpdir(), 'portcache-integrity-tree-')), 'guru');
      // ≈ 9,400 md5-cache entries: the first build takes a couple of seconds here.
      await replicateRepo(FIXTURE_REPOS.guru, replica, COPIES);
    });

    afterAll(async () => {
      if (replica) await rm(join(replica, '..'), { recursive: true, force: true });
    });

    it('ends no response cleanly with wrong bytes, commits no wrong file, and serves the truth once the index is built', async () => {
      const files = ['early-a-1.0.tar.gz', 'early-b-2.1.tar.xz', 'early-c-0.3.zip'].map((name) => {
        const truth = randomBytes(1.5 * MiB);
        return { name, truth, lie: corrupt(truth, 700_000, truth.length - 10) };
      });
      const liar = await upstream('hashed');
      const honest = await upstream('flat');
      for (const { name, truth, lie } of files) {
        liar.add(name, lie, { rate: 3_000_000 });
        honest.add(name, truth);
      }
      const small = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: Object.fromEntries(
          files.map(({ name }, i) => [
            `app-misc/early-${i}-1.0`,
            `EAPI=8\nSRC_URI=${honest.url}/distfiles/${name}\n`,
          ]),
        ),
        manifests: Object.fromEntries(
          files.map(({ name, truth }, i) => [`app-misc/early-${i}`, distLine(name, truth)]),
        ),
      });
      portcache = await startPortcache({
        PORTCACHE_MIRRORS: liar.url,
        PORTCACHE_REPOS: `${small} ${replica}`,
        PORTCACHE_TRUSTED_NETS: '127.0.0.1',
        PORTCACHE_STALL_TIMEOUT: '5s',
      });
      const running = portcache;
      const url = (name: string) => `${running.url}/distfiles/${name}`;

      // Full GETs at once after startup.
      const sent = files.map(({ name }) => fetchOutcome(url(name), { label: name, timeoutMs: 20_000 }));
      // Watches for a committed wrong file from now until the end of the test.
      const wrongCommits = new Set<string>();
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          for (const { name, truth } of files) {
            const cache = await explain(name).then(
              (explained) => explained.cache,
              () => undefined,
            );
            if (cache?.cached && cache.BLAKE2B !== digestOf('blake2b512', truth)) wrongCommits.add(name);
          }
          await sleep(30);
        }
      })();
      try {
        // The requests arrived while the index was being built.
        await sleep(100);
        expect((await explain(files[0].name)).index.ready).toBe(false);

        const outcomes = await Promise.all(sent);
        expect(outcomes.flatMap((outcome, i) => cleanWrong([outcome], files[i].truth))).toEqual([]);

        await portcache.app.get(SrcUriResolver).whenReady();
        expect((await explain(files[0].name)).index).toMatchObject({ ready: true, known: true });
        // Once the index is built, each file is eventually served right (a retry or two may be cut).
        for (const { name, truth } of files) {
          let served: Outcome | undefined;
          for (let attempt = 0; attempt < 4 && !served?.clean; attempt++) {
            served = await fetchOutcome(url(name), { label: `${name} after the build`, timeoutMs: 15_000 });
            expect(cleanWrong([served], truth)).toEqual([]);
            if (!served.clean) await sleep(200);
          }
          expect(served?.clean, `${name}: ${served?.status} ${served?.error?.message ?? ''}`).toBe(true);
          expect(served?.status).toBe(200);
        }
      } finally {
        watching = false;
        await watcher;
      }
      expect([...wrongCommits]).toEqual([]);
      // After everything settled: a hit returns the truth, or the file is not cached.
      for (const { name, truth } of files) {
        const { cache } = await explain(name);
        if (cache.cached) expect(cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
      }
    });
  });
});
