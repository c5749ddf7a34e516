import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import {
  type BalancerEntry,
  blamed,
  cleanAndWrong,
  digestOf,
  distLine,
  fetchOutcome,
  fileDescriptors,
  getJson,
  headerOf,
  mentions,
  type Outcome,
  until,
} from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';

const MiB = 1024 * 1024;
const TOKEN = 'fill-blame-test-token-0123456789';
const EMPTY = Buffer.alloc(0);

interface Explained {
  index: { ready: boolean; known: boolean; packages?: Array<{ repo: string; uris: string[] }> };
  cache: { cached: boolean; filling: boolean; size?: number; BLAKE2B?: string };
}

describe('fills: who is blamed, empty files, and what an unexpected error leaves behind', () => {
  let portcache: RunningPortcache | undefined;
  const bed = new TestBed('portcache-blame-');

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  const upstream = (layout: 'hashed' | 'flat' = 'hashed') => bed.upstream(layout);

  async function start(env: Record<string, string>) {
    portcache = await startPortcache({
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
      PORTCACHE_ADMIN_TOKEN: TOKEN,
      ...env,
    });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const url = (name: string) => `${portcache?.url}/distfiles/${name}`;
  const api = (path: string) => `${portcache?.url}/api/v1/${path}`;
  const explain = (name: string) => getJson<Explained>(api(`distfiles/${name}`));

  async function entryOf(kind: 'mirrors' | 'hosts', server: UpstreamServer): Promise<BalancerEntry> {
    const entries = await getJson<BalancerEntry[]>(api(kind));
    const entry = entries.find((e) => e.url === server.url);
    if (!entry) throw new Error(`${server.url} is not in /api/v1/${kind}: ${JSON.stringify(entries)}`);
    return entry;
  }

  /** GETs `name` until one ends cleanly (at most `attempts`); fails if any ends cleanly with wrong bytes. */
  async function getUntilClean(name: string, truth: Buffer, attempts = 3): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (let attempt = 0; attempt < attempts; attempt++) {
      const outcome = await fetchOutcome(url(name), { label: `GET #${attempt + 1}`, timeoutMs: 15_000 });
      outcomes.push(outcome);
      expect(cleanAndWrong(outcome, truth), `${outcome.label} ended cleanly with wrong bytes`).toBe(false);
      if (outcome.clean && outcome.status === 200) break;
      await sleep(100);
    }
    return outcomes;
  }

  const describeOutcomes = (outcomes: Outcome[]) =>
    outcomes
      .map(
        (o) =>
          `${o.label}: HTTP ${o.status}, ${o.body.length} bytes, ${o.clean ? 'clean' : `cut (${o.error?.message})`}`,
      )
      .join('; ');

  async function remove(name: string): Promise<number> {
    const response = await request(api(`distfiles/${name}`), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.body.dump();
    return response.statusCode;
  }

  describe('5a: a source that sends more bytes than the Manifest size, without Content-Length', () => {
    it('blames the mirror that overran, never the healthy mirrors after it (no circuit opened), and caches the truth', async () => {
      const truth = randomBytes(1.5 * MiB);
      const name = 'overrun-mirror-1.0.tar.gz';
      const overrun = (await upstream('hashed')).add(name, Buffer.concat([truth, randomBytes(100_000)]), {
        chunked: true,
      });
      const healthy = [await upstream('hashed'), await upstream('hashed')];
      for (const mirror of healthy) mirror.add(name, truth);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/overrun-mirror-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/overrun-mirror': distLine(name, truth) },
      });
      // Configuration order: the overrunning mirror is asked first.
      await start({
        PORTCACHE_MIRRORS: [overrun, ...healthy].map((m) => m.url).join(' '),
        PORTCACHE_REPOS: repo,
      });

      const outcomes = await getUntilClean(name, truth);
      expect(overrun.requestsFor(name).length).toBeGreaterThan(0);
      for (const mirror of healthy) {
        const entry = await entryOf('mirrors', mirror);
        expect(entry, `healthy mirror ${mirror.url}, after ${describeOutcomes(outcomes)}`).toMatchObject({
          circuit: 'closed',
          consecutiveFailures: 0,
          failures: 0,
        });
        expect(mentions(entry, name)).toBe(false);
        expect(entry.badFiles ?? 0).toBe(0);
      }
      expect(blamed(await entryOf('mirrors', overrun), name)).toBe(true);
      expect(outcomes.at(-1)?.clean, describeOutcomes(outcomes)).toBe(true);
      await until('the file is cached', async () => (await explain(name)).cache.cached, 5000);
      expect((await explain(name)).cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
    });

    it('blames the SRC_URI host that overran with other bytes, not the honest host after it, and caches the truth', async () => {
      const truth = randomBytes(MiB);
      const name = 'overrun-host-1.0.tar.gz';
      const overrun = (await upstream('flat')).add(name, randomBytes(truth.length + 50_000), {
        chunked: true,
      });
      const honest = (await upstream('flat')).add(name, truth);
      const mirror = await upstream('hashed');
      const repo = await writeRepo(join(await bed.tempDir(), 'overlay'), {
        name: 'overlay',
        entries: {
          'app-misc/overrun-host-1.0': `EAPI=8\nSRC_URI=${overrun.url}/distfiles/${name} ${honest.url}/distfiles/${name}\n`,
        },
        manifests: { 'app-misc/overrun-host': distLine(name, truth) },
      });
      await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });

      const outcomes = await getUntilClean(name, truth);
      expect(overrun.requestsFor(name).length).toBeGreaterThan(0);
      const honestEntry = await entryOf('hosts', honest);
      expect(honestEntry, `honest host, after ${describeOutcomes(outcomes)}`).toMatchObject({
        circuit: 'closed',
        consecutiveFailures: 0,
        failures: 0,
      });
      expect(mentions(honestEntry, name)).toBe(false);
      expect(honestEntry.badFiles ?? 0).toBe(0);
      expect(blamed(await entryOf('hosts', overrun), name)).toBe(true);
      expect(outcomes.at(-1)?.clean, describeOutcomes(outcomes)).toBe(true);
      await until('the file is cached', async () => (await explain(name)).cache.cached, 5000);
      expect((await explain(name)).cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
      expect(mirror.requestsFor(name)).toEqual([]);
    });
  });

  describe('5b: a short body of wrong bytes from A, completed by Range from an honest B', () => {
    it('fetches the file whole from one source before blaming: caches the truth, B is not marked bad, A is', async () => {
      const truth = randomBytes(2 * MiB);
      const name = 'short-wrong-1.0.tar.gz';
      const cut = Math.floor(truth.length * 0.4);
      // A: Content-Length says the whole file; 40 % of other bytes, then a reset.
      const other = Buffer.concat([randomBytes(cut), truth.subarray(cut)]);
      const a = (await upstream('hashed')).add(name, other, { resetAfter: cut });
      const b = (await upstream('hashed')).add(name, truth);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/short-wrong-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/short-wrong': distLine(name, truth) },
      });
      await start({ PORTCACHE_MIRRORS: `${a.url} ${b.url}`, PORTCACHE_REPOS: repo });

      const outcomes = await getUntilClean(name, truth);
      expect(a.requestsFor(name)[0].range).toBeUndefined();
      expect(outcomes.at(-1)?.clean, describeOutcomes(outcomes)).toBe(true);
      await until('the file is cached', async () => (await explain(name)).cache.cached, 5000);
      expect((await explain(name)).cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
      // B had the file whole at some point (a request without Range), which settled who was wrong.
      expect(b.requestsFor(name).some((r) => r.range === undefined)).toBe(true);

      const bEntry = await entryOf('mirrors', b);
      expect(bEntry).toMatchObject({ circuit: 'closed', consecutiveFailures: 0 });
      expect(mentions(bEntry, name)).toBe(false);
      expect(bEntry.badFiles ?? 0).toBe(0);
      expect(blamed(await entryOf('mirrors', a), name)).toBe(true);

      // Fetched again, the file comes whole from B; A, marked bad for it, is not asked.
      expect(await remove(name)).toBe(200);
      const aAsked = a.requestsFor(name).length;
      const bAsked = b.requestsFor(name).length;
      const again = await fetchOutcome(url(name), { label: 'after DELETE' });
      expect(again.clean).toBe(true);
      expect(again.body.equals(truth)).toBe(true);
      expect(a.requestsFor(name)).toHaveLength(aAsked);
      expect(
        b
          .requestsFor(name)
          .slice(bAsked)
          .map((r) => r.range),
      ).toEqual([undefined]);
    });
  });

  describe('6: a zero-byte distfile', () => {
    const emptyDist = (name: string) => distLine(name, EMPTY);

    async function expectEmptyFileServedThenCached(mirror: UpstreamServer, name: string) {
      const miss = await fetchOutcome(url(name), { label: 'miss', timeoutMs: 5000 });
      expect(miss.status, miss.error?.message).toBe(200);
      expect(headerOf(miss.headers, 'content-length')).toBe('0');
      expect(miss.body.length).toBe(0);
      expect(miss.clean).toBe(true);
      expect(miss.error).toBeUndefined();

      await until('the empty file is cached', async () => (await explain(name)).cache.cached, 5000);
      expect((await explain(name)).cache).toMatchObject({ cached: true, size: 0 });
      const hit = await fetchOutcome(url(name), { label: 'hit', timeoutMs: 5000 });
      expect(hit).toMatchObject({ status: 200, clean: true });
      expect(headerOf(hit.headers, 'content-length')).toBe('0');
      expect(hit.body.length).toBe(0);
      const head = await fetchOutcome(url(name), { label: 'HEAD', method: 'HEAD', timeoutMs: 5000 });
      expect(head.status).toBe(200);
      expect(headerOf(head.headers, 'content-length')).toBe('0');
      expect(mirror.requestsFor(name).filter((r) => r.method === 'GET')).toHaveLength(1);
    }

    it('known to a Manifest (digests of the empty string): the miss is 200 with Content-Length 0, then a hit', async () => {
      const name = 'empty-known-1.0.tar.gz';
      const mirror = (await upstream('hashed')).add(name, EMPTY);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/empty-known-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/empty-known': emptyDist(name) },
      });
      await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
      expect((await explain(name)).index.known).toBe(true);
      await expectEmptyFileServedThenCached(mirror, name);
    });

    it('unknown to every Manifest: the miss is 200 with Content-Length 0, then a hit', async () => {
      const name = 'empty-unknown-1.0.tar.gz';
      const mirror = (await upstream('hashed')).add(name, EMPTY);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), { name: 'gentoo' });
      await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
      expect((await explain(name)).index.known).toBe(false);
      await expectEmptyFileServedThenCached(mirror, name);
    });
  });

  describe('10: an unexpected error after the first source answered', () => {
    it('cuts the client at once and leaves no temporary file and no open descriptor (mirror dies mid-body, then a SRC_URI new URL() rejects)', async () => {
      const truth = randomBytes(3 * MiB);
      const name = 'orphaned-1.0.tar.gz';
      const mirror = (await upstream('hashed')).add(name, truth, { resetAfter: MiB });
      const malformed = `http://127.0.0.1:99999/distfiles/${name}`;
      const root = await bed.tempDir();
      const gentoo = await writeRepo(join(root, 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/orphaned-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/orphaned': distLine(name, truth) },
      });
      const overlay = await writeRepo(join(root, 'overlay'), {
        name: 'overlay',
        masters: 'gentoo',
        entries: { 'app-misc/orphaned-1.0': `EAPI=8\nSRC_URI=${malformed}\n` },
        manifests: { 'app-misc/orphaned': distLine(name, truth) },
      });
      await start({
        PORTCACHE_MIRRORS: mirror.url,
        PORTCACHE_REPOS: `${gentoo} ${overlay}`,
        PORTCACHE_STALL_TIMEOUT: '10s',
      });
      // The index keeps the malformed URL (whether the fill plans it is up to the fill).
      const { index } = await explain(name);
      expect(index.packages?.flatMap((p) => p.uris)).toContain(malformed);

      const tmp = join(portcache?.cacheDir ?? '', '.portcache', 'tmp');
      expect(await readdir(tmp)).toEqual([]);
      const baseline = await fileDescriptors();

      const outcome = await fetchOutcome(url(name), { label: 'GET', timeoutMs: 5000 });
      const took = outcome.endedAt - outcome.sentAt;
      expect(outcome.clean).toBe(false);
      // A cut, not our own 5 s deadline, and well within the 10 s stall timeout.
      expect(outcome.error?.name, outcome.error?.message).not.toMatch(/Abort|Timeout/);
      expect(took).toBeLessThan(3000);
      expect(outcome.body.equals(truth.subarray(0, outcome.body.length))).toBe(true);

      await until('no temporary file remains', async () => (await readdir(tmp)).length === 0, 3000).catch(
        async () => expect(await readdir(tmp)).toEqual([]),
      );
      let now = await fileDescriptors();
      await until(
        'the descriptors are back at the baseline',
        async () => {
          now = await fileDescriptors();
          return now.files.length <= baseline.files.length && now.deleted.length <= baseline.deleted.length;
        },
        3000,
      ).catch(() => undefined);
      expect(now.deleted.filter((fd) => !baseline.deleted.includes(fd))).toEqual([]);
      expect(now.files.filter((fd) => !baseline.files.includes(fd))).toEqual([]);
      expect(now.files.length).toBeLessThanOrEqual(baseline.files.length);
    });
  });
});
