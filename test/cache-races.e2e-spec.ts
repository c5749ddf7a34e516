import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../src/common/layout.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import {
  cleanAndWrong,
  digestOf,
  distLine,
  fetchOutcome,
  getJson,
  headerOf,
  type Outcome,
  slowBody,
  until,
} from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForFillOver } from './support/wait.js';

const MiB = 1024 * 1024;
const TOKEN = 'cache-races-test-token-0123456789';

interface Explained {
  index: { ready: boolean; known: boolean };
  cache: { cached: boolean; filling: boolean; size?: number; BLAKE2B?: string; SHA512?: string };
}

describe('cache races: imports against fills, commits against hits, metadata against the bytes on disk', () => {
  let portcache: RunningPortcache | undefined;
  const bed = new TestBed('portcache-races-');

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  const upstream = () => bed.upstream('hashed');

  async function start(env: Record<string, string>, cacheDir?: string) {
    portcache = await startPortcache(
      { PORTCACHE_TRUSTED_NETS: '127.0.0.1', PORTCACHE_ADMIN_TOKEN: TOKEN, ...env },
      cacheDir ? { cacheDir } : {},
    );
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const url = (name: string) => `${portcache?.url}/distfiles/${name}`;
  const api = (path: string) => `${portcache?.url}/api/v1/${path}`;
  const explain = (name: string) => getJson<Explained>(api(`distfiles/${name}`));
  const auth = { authorization: `Bearer ${TOKEN}` };

  function importFile(name: string, body: Buffer | import('node:stream').Readable, length?: number) {
    return request(api(`distfiles/${name}?unverified=1`), {
      method: 'PUT',
      headers: {
        ...auth,
        'content-type': 'application/octet-stream',
        ...(length !== undefined && { 'content-length': String(length) }),
      },
      body,
      signal: AbortSignal.timeout(20_000),
    });
  }

  async function remove(name: string): Promise<number> {
    const response = await request(api(`distfiles/${name}`), {
      method: 'DELETE',
      headers: auth,
      signal: AbortSignal.timeout(5000),
    });
    await response.body.dump();
    return response.statusCode;
  }

  describe('9a: a request for a file while it is being imported', () => {
    it('starts no upstream download: a GET joins the upload (or gets 503 with Retry-After), a DELETE gets 409', async () => {
      const body = randomBytes(2 * MiB);
      const name = 'uploading-1.0.tar.gz';
      // The mirror has the file: a GET that does not know about the upload would fetch it there.
      const mirror = (await upstream()).add(name, body);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/uploading-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/uploading': distLine(name, body) },
      });
      await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo, PORTCACHE_STALL_TIMEOUT: '10s' });

      // ≈ 2.5 s of upload: 32 pieces of 64 KiB, one every 80 ms.
      const upload = slowBody(body, 64 * 1024, 80);
      const put = importFile(name, upload.body, body.length);
      await until('a third of the upload was sent', () => upload.sent() >= body.length / 3, 5000);
      await sleep(100);
      expect(upload.sent()).toBeLessThan(body.length);

      // Before any GET: nothing but the import is running. (Soft: the GET below is checked too.)
      expect.soft(await remove(name), 'DELETE during the import').toBe(409);
      const get = fetchOutcome(url(name), { label: 'GET during the import', timeoutMs: 15_000 });
      await sleep(100);
      expect(upload.sent(), 'the GET must come while the upload runs').toBeLessThan(body.length);

      const imported = await put;
      const answer = await imported.body.text();
      expect(imported.statusCode, answer).toBe(201);
      const during = await get;
      // Either answer is allowed: the imported bytes (it joined the upload; its last byte may wait
      // for the upload's verification), or 503 with Retry-After. Never a second download.
      if (during.status === 503) {
        expect(headerOf(during.headers, 'retry-after')).toBeDefined();
      } else {
        expect(during.status, during.error?.message).toBe(200);
        expect(during.clean).toBe(true);
        expect(during.body.equals(body)).toBe(true);
      }
      expect(mirror.requestsFor(name)).toEqual([]);

      const hit = await fetchOutcome(url(name), { label: 'after the import' });
      expect(hit.clean).toBe(true);
      expect(hit.body.equals(body)).toBe(true);
      expect((await explain(name)).cache.BLAKE2B).toBe(digestOf('blake2b512', body));
      expect(mirror.requestsFor(name)).toEqual([]);
    });
  });

  describe('9b: HEAD and GET while imports and a fill commit the same name', () => {
    it('always answers with a Content-Length and ETag that belong to the bytes served', async () => {
      const name = 'replaced-1.0.tar.gz';
      const size = 512 * 1024;
      // Same size (a wrong ETag is the only tell), larger, and the fill's own bytes.
      const versions = [
        randomBytes(size),
        randomBytes(size),
        randomBytes(size + 128 * 1024),
        randomBytes(size),
      ];
      const mirror = (await upstream()).add(name, versions[0]);
      // Known to no Manifest: any bytes may be imported over it.
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), { name: 'gentoo' });
      const app = await start({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
      const first = await fetchOutcome(url(name), { label: 'fill v0' });
      expect(first.body.equals(versions[0])).toBe(true);
      await waitForFillOver(app, name);

      const heads: Outcome[] = [];
      const gets: Outcome[] = [];
      let running = true;
      const loops = Array.from({ length: 3 }, async () => {
        while (running) {
          heads.push(await fetchOutcome(url(name), { label: 'HEAD', method: 'HEAD', timeoutMs: 5000 }));
          gets.push(await fetchOutcome(url(name), { label: 'GET', timeoutMs: 5000 }));
        }
      });
      try {
        // Imports that replace the cached file, over and over.
        for (let round = 0; round < 8; round++) {
          for (const version of [versions[1], versions[2], versions[0]]) {
            const imported = await importFile(name, version, version.length);
            expect(imported.statusCode, await imported.body.text()).toBe(201);
            await sleep(5);
          }
        }
        // And a fill that commits new bytes while the loops go on.
        mirror.add(name, versions[3], { rate: 4_000_000 });
        expect(await remove(name)).toBe(200);
        const filled = await fetchOutcome(url(name), { label: 'fill v3' });
        expect(filled.body.equals(versions[3])).toBe(true);
        await until(
          'v3 is cached',
          async () => (await explain(name)).cache.BLAKE2B === digestOf('blake2b512', versions[3]),
          5000,
        );
        await sleep(100);
      } finally {
        running = false;
        await Promise.all(loops);
      }

      // Every clean GET carried one whole version, as long as its Content-Length said.
      const problems: string[] = [];
      const bodyOfEtag = new Map<string, Buffer>();
      const lengthOfEtag = new Map<string, number>();
      for (const get of gets) {
        // Cuts and answers without the file (a 503 while the name is busy) carry no claim.
        if (!get.clean || get.status !== 200) continue;
        const length = Number(headerOf(get.headers, 'content-length'));
        if (length !== get.body.length)
          problems.push(`GET: Content-Length ${length}, ${get.body.length} bytes`);
        if (!versions.some((version) => version.equals(get.body))) {
          problems.push(`GET: ${get.body.length} bytes that are no version of the file`);
        }
        const etag = headerOf(get.headers, 'etag');
        if (etag === undefined) continue;
        const seen = bodyOfEtag.get(etag);
        if (seen && !seen.equals(get.body)) problems.push(`GET: ETag ${etag} on two different bodies`);
        bodyOfEtag.set(etag, get.body);
        lengthOfEtag.set(etag, get.body.length);
      }
      // A HEAD's Content-Length is that of the version its ETag names.
      for (const head of heads) {
        if (head.status !== 200) continue;
        const etag = headerOf(head.headers, 'etag');
        const length = Number(headerOf(head.headers, 'content-length'));
        if (!versions.some((version) => version.length === length))
          problems.push(`HEAD: Content-Length ${length}`);
        const known = etag === undefined ? undefined : lengthOfEtag.get(etag);
        if (known !== undefined && known !== length) {
          problems.push(`HEAD: Content-Length ${length} with the ETag of a ${known}-byte version`);
        }
      }
      expect(gets.filter((get) => get.clean).length).toBeGreaterThan(20);
      expect([...new Set(problems)]).toEqual([]);
      expect(mirror.requestsFor(name).filter((r) => r.method === 'GET')).toHaveLength(2);
    });
  });

  describe('12: metadata whose data file is not the one it was recorded for', () => {
    const dataPath = (cacheDir: string, name: string) => join(cacheDir, blake2bPrefix(name), name);

    /** A file placed by hand: written beside, then renamed into place (a new inode). */
    async function placeByHand(path: string, bytes: Buffer) {
      await writeFile(`${path}.by-hand`, bytes);
      await rename(`${path}.by-hand`, path);
    }

    it('hashes a same-size file placed by hand where a crash left only the metadata (ETag and explain of its real bytes)', async () => {
      const name = 'orphan-meta-1.0.tar.gz';
      const committed = randomBytes(MiB);
      const byHand = randomBytes(MiB);
      const mirror = (await upstream()).add(name, committed);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), { name: 'gentoo' });
      const env = { PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo };
      const cacheDir = await bed.tempDir();

      const running = await start(env, cacheDir);
      const filled = await fetchOutcome(url(name), { label: 'fill' });
      expect(filled.body.equals(committed)).toBe(true);
      await until('committed', async () => (await explain(name)).cache.cached, 5000);
      const oldEtag = headerOf((await fetchOutcome(url(name), { method: 'HEAD' })).headers, 'etag');
      await running.close({ keepCacheDir: true });
      portcache = undefined;

      // A crash between the two renames: the metadata is in place, the data file is not.
      await rm(dataPath(cacheDir, name));
      const restarted = await start(env, cacheDir);
      expect((await explain(name)).cache.cached).toBe(false);
      await restarted.close({ keepCacheDir: true });
      portcache = undefined;

      // Later an admin puts a same-size file there by hand.
      await placeByHand(dataPath(cacheDir, name), byHand);
      await start(env, cacheDir);
      await until('the hand-placed file is served', async () => (await explain(name)).cache.cached, 5000);
      const explained = await explain(name);
      expect(explained.cache.BLAKE2B).toBe(digestOf('blake2b512', byHand));
      expect(explained.cache.SHA512).toBe(digestOf('sha512', byHand));
      const hit = await fetchOutcome(url(name), { label: 'hit' });
      expect(hit.clean).toBe(true);
      expect(hit.body.equals(byHand)).toBe(true);
      expect(headerOf(hit.headers, 'etag')).not.toBe(oldEtag);
      expect(mirror.requestsFor(name)).toHaveLength(1);
    });

    it('hashes a committed file replaced by hand (same size, new inode) while stopped; a Manifest-known one is never served with the old digests', async () => {
      const name = 'swapped-1.0.tar.gz';
      const truth = randomBytes(MiB);
      const byHand = randomBytes(MiB);
      const mirror = (await upstream()).add(name, truth);
      const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
        name: 'gentoo',
        entries: { 'app-misc/swapped-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n` },
        manifests: { 'app-misc/swapped': distLine(name, truth) },
      });
      const env = { PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo };
      const cacheDir = await bed.tempDir();

      const running = await start(env, cacheDir);
      expect((await fetchOutcome(url(name), { label: 'fill' })).body.equals(truth)).toBe(true);
      await until('committed', async () => (await explain(name)).cache.cached, 5000);
      await running.close({ keepCacheDir: true });
      portcache = undefined;

      await placeByHand(dataPath(cacheDir, name), byHand);
      await start(env, cacheDir);
      // Never the hand-placed bytes under the Manifest's digests: they are hashed, found wrong,
      // and the file is fetched again.
      let served: Outcome | undefined;
      for (let attempt = 0; attempt < 3 && !served?.clean; attempt++) {
        served = await fetchOutcome(url(name), { label: `GET #${attempt + 1}`, timeoutMs: 10_000 });
        expect(cleanAndWrong(served, truth), `${served.label} served the hand-placed bytes`).toBe(false);
        if (!served.clean) await sleep(200);
      }
      expect(served?.clean).toBe(true);
      expect(served?.body.equals(truth)).toBe(true);
      const { cache } = await explain(name);
      if (cache.cached) expect(cache.BLAKE2B).toBe(digestOf('blake2b512', truth));
      expect(mirror.requestsFor(name)).toHaveLength(2);
    });
  });
});
