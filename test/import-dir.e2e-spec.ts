import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprintOf, listImportDir } from '../src/admin/import-listing.js';
import type { ImportSummary } from '../src/admin/import-tally.js';
import { CacheStore } from '../src/cache/cache-store.service.js';
import { blake2bPrefix } from '../src/common/layout.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { digestOf, distLine } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import type { UpstreamServer } from './support/upstream-server.js';

const TOKEN = 'import-dir-test-token-0123456789';
const CLI_JS = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const KiB = 1024;
const sha = (data: Buffer) => digestOf('sha256', data);

const GOOD = 'good-1.0.tar.gz';
const CORRUPT = 'corrupt-2.1.tar.xz';
const UNKNOWN = 'unknown-0.3.tar.gz';
const RESTRICTED = 'vendor-sdk-4.2.zip';

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

describe('portcache import DIR', () => {
  let portcache: RunningPortcache | undefined;
  let proxy: { url: string; seen: string[]; close(): Promise<void> } | undefined;
  const bed = new TestBed('portcache-import-dir-');

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  /** An existing /var/cache/distfiles: one good, one corrupt, one unknown, one fetch-restricted file, and what else lies there. */
  async function setUp() {
    const truth = {
      [GOOD]: randomBytes(300 * KiB),
      [CORRUPT]: randomBytes(200 * KiB),
      [RESTRICTED]: randomBytes(100 * KiB),
    };
    const onDisk = {
      [GOOD]: truth[GOOD],
      [CORRUPT]: randomBytes(200 * KiB), // same size, other bytes
      [RESTRICTED]: truth[RESTRICTED],
      [UNKNOWN]: randomBytes(50 * KiB),
    };
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: {
        'app-misc/good-1.0': `EAPI=8\nSRC_URI=mirror://gentoo/${GOOD}\n`,
        'app-misc/corrupt-2.1': `EAPI=8\nSRC_URI=mirror://gentoo/${CORRUPT}\n`,
        'dev-util/vendor-sdk-4.2': `EAPI=8\nSRC_URI=${RESTRICTED}\nRESTRICT=fetch\n`,
      },
      manifests: {
        'app-misc/good': distLine(GOOD, truth[GOOD]),
        'app-misc/corrupt': distLine(CORRUPT, truth[CORRUPT]),
        'dev-util/vendor-sdk': distLine(RESTRICTED, truth[RESTRICTED]),
      },
    });
    const dir = await bed.tempDir();
    for (const [name, body] of Object.entries(onDisk)) await writeFile(join(dir, name), body);
    await writeFile(join(dir, '.keep'), '');
    await mkdir(join(dir, 'git3-src'));
    await writeFile(join(dir, 'partial-9.9.tar.gz.__download__'), randomBytes(1000));
    // An empty mirror: whatever is asked of it shows up in its request log.
    const mirror = await bed.upstream('hashed');
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_REPOS: repo,
      PORTCACHE_ADMIN_TOKEN: TOKEN,
    });
    await portcache.app.get(SrcUriResolver).whenReady();
    return { dir, truth, onDisk, mirror };
  }

  function cli(args: string[], url = portcache?.url): Promise<Cli> {
    const env = { ...process.env, PORTCACHE_URL: url, PORTCACHE_ADMIN_TOKEN: TOKEN };
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_JS, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  async function served(name: string): Promise<Buffer | number> {
    const response = await fetchDistfile(`${portcache?.url}/distfiles/${name}`);
    return response.status === 200 && !response.error ? response.body : response.status;
  }

  async function quarantined(): Promise<string[]> {
    const root = join(portcache?.cacheDir ?? '', '.portcache', 'quarantine');
    const found: string[] = [];
    for (const entry of await readdir(root).catch(() => [] as string[]))
      found.push(...(await readdir(join(root, entry))).filter((file) => file !== 'why'));
    return found;
  }

  /** Checks the first import of the directory: each file got what it should. */
  async function expectFirstImport(
    result: Cli,
    how: string,
    { dir, truth, onDisk, mirror }: Awaited<ReturnType<typeof setUp>>,
  ) {
    expect(result.code, result.stderr).toBe(1); // a file mismatched
    expect(result.stdout).toContain(how);
    expect(result.stdout).toMatch(/imported\s+2 /);
    expect(result.stdout).toMatch(/already cached\s+0/);
    expect(result.stdout).toMatch(/mismatched\s+1/);
    expect(result.stdout).toContain(`${CORRUPT}: BLAKE2B does not match the Manifest`);
    expect(result.stdout).toMatch(/skipped\s+4/);
    expect(result.stdout).toMatch(
      /1 {2}unknown to every Manifest \(--unverified imports it\): unknown-0\.3\.tar\.gz/,
    );
    expect(result.stdout).toMatch(/1 {2}hidden file or directory \(dotfile\): \.keep/);
    expect(result.stdout).toMatch(/1 {2}a directory: git3-src/);
    expect(result.stdout).toMatch(/1 {2}Portage's download in progress: partial-9\.9\.tar\.gz\.__download__/);
    expect(result.stderr).toContain(`mismatched: ${CORRUPT}`);

    expect(sha((await served(GOOD)) as Buffer)).toBe(sha(truth[GOOD]));
    // Fetch-restricted: portcache never downloads it, but takes it once it verifies.
    expect(sha((await served(RESTRICTED)) as Buffer)).toBe(sha(truth[RESTRICTED]));
    expect(portcache?.app.get(CacheStore).get(CORRUPT)).toBeUndefined();
    expect(portcache?.app.get(CacheStore).get(UNKNOWN)).toBeUndefined();
    expect(await quarantined()).toEqual([CORRUPT]);
    // The directory is left as it was.
    expect(sha(await readFile(join(dir, CORRUPT)))).toBe(sha(onDisk[CORRUPT]));
    expect(sha(await readFile(join(dir, UNKNOWN)))).toBe(sha(onDisk[UNKNOWN]));
    expect(mirror.requests.filter((r) => r.url !== '/distfiles/layout.conf')).toEqual([]);
  }

  /** A second import with --unverified: the unknown file comes in, the rest is as cached. */
  async function expectSecondImport(result: Cli, { onDisk }: Awaited<ReturnType<typeof setUp>>) {
    const summary = JSON.parse(result.stdout) as ImportSummary;
    expect(summary).toMatchObject({
      imported: 1,
      importedUnverified: 1,
      importedBytes: onDisk[UNKNOWN].length,
      alreadyCached: 2,
      mismatched: 1,
      skipped: 3,
      failed: 0,
    });
    expect(sha((await served(UNKNOWN)) as Buffer)).toBe(sha(onDisk[UNKNOWN]));
    expect(portcache?.app.get(CacheStore).get(CORRUPT)).toBeUndefined();
  }

  it('server-side: the server reads the directory itself; each file verified, the unknown one only with --unverified', async () => {
    const setup = await setUp();
    const store = portcache?.app.get(CacheStore);
    const first = await cli(['import', setup.dir]);
    await expectFirstImport(first, 'read by the server', setup);

    const inodeBefore = (await import('node:fs/promises')).stat(store?.get(GOOD)?.path ?? '');
    const second = await cli(['import', setup.dir, '--unverified', '--json']);
    expect(second.code, second.stderr).toBe(1);
    await expectSecondImport(second, setup);
    // Already cached: not rewritten.
    const inodeAfter = await (await import('node:fs/promises')).stat(store?.get(GOOD)?.path ?? '');
    expect(inodeAfter.ino).toBe((await inodeBefore).ino);
  });

  it('streamed: when the server cannot read the directory (404), each file is uploaded through the API instead', async () => {
    const setup = await setUp();
    proxy = await blindProxy(portcache?.url ?? '');
    const first = await cli(['import', setup.dir], proxy.url);
    expect(first.stderr).toContain('no such directory on the server');
    expect(first.stderr).toContain('uploading its files');
    await expectFirstImport(first, 'uploaded through the API', setup);
    // Files the server would refuse are not sent: the unknown one, dotfiles, Portage's partial download.
    const puts = proxy.seen.filter((line) => line.startsWith('PUT '));
    expect(puts.sort()).toEqual(
      [GOOD, CORRUPT, RESTRICTED].map((name) => `PUT /api/v1/distfiles/${encodeURIComponent(name)}`).sort(),
    );

    proxy.seen.length = 0;
    const second = await cli(['import', setup.dir, '--unverified', '--json'], proxy.url);
    expect(second.code, second.stderr).toBe(1);
    await expectSecondImport(second, setup);
    // Already cached: hashed here and compared with explain, not uploaded again.
    expect(proxy.seen.filter((line) => line.startsWith('PUT ')).sort()).toEqual(
      [
        `PUT /api/v1/distfiles/${CORRUPT}?unverified=1`,
        `PUT /api/v1/distfiles/${UNKNOWN}?unverified=1`,
      ].sort(),
    );
  });

  it('the import endpoint refuses a directory that is not the one the command lists (409), and one it cannot find (404)', async () => {
    const { dir } = await setUp();
    const post = (body: unknown) =>
      request(`${portcache?.url}/api/v1/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const other = await post({ dir, fingerprint: 'another machine' });
    expect(other.statusCode).toBe(409);
    expect(await other.body.text()).toContain('not the directory the command sees');
    const missing = await post({ dir: join(dir, 'nowhere') });
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
    expect(portcache?.app.get(CacheStore).count).toBe(0);

    // The right fingerprint: NDJSON lines, then the summary.
    const right = await post({ dir, fingerprint: fingerprintOf((await listImportDir(dir)).files) });
    expect(right.statusCode).toBe(200);
    expect(right.headers['content-type']).toContain('application/x-ndjson');
    const lines = (await right.body.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ event: 'start', dir, files: 7 });
    expect(lines.filter((line) => line.event === 'file')).toHaveLength(7);
    expect(lines.find((line) => line.name === RESTRICTED)).toMatchObject({
      outcome: 'imported',
      verified: true,
      fetchRestricted: true,
    });
    expect(lines.at(-1)).toMatchObject({ event: 'summary', imported: 2, mismatched: 1, skipped: 4 });
  });

  it('PUT refuses a file no Manifest knows unless ?unverified=1, and answers 200 for bytes already cached', async () => {
    await setUp();
    const put = (name: string, body: Buffer, query = '') =>
      request(`${portcache?.url}/api/v1/distfiles/${name}${query}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
        body,
      });
    const body = randomBytes(10 * KiB);
    const refused = await put(UNKNOWN, body);
    expect(refused.statusCode).toBe(409);
    expect(await refused.body.text()).toContain('--unverified');
    expect(await readdir(join(portcache?.cacheDir ?? '', '.portcache', 'tmp'))).toEqual([]);
    const taken = await put(UNKNOWN, body, '?unverified=1');
    expect(taken.statusCode).toBe(201);
    expect(await taken.body.json()).toMatchObject({ verified: false, alreadyCached: false });
    const again = await put(UNKNOWN, body, '?unverified=1');
    expect(again.statusCode).toBe(200);
    expect(await again.body.json()).toMatchObject({ alreadyCached: true });
  });
});

describe('files placed in the cache directory by hand', () => {
  let portcache: RunningPortcache | undefined;
  let mirror: UpstreamServer | undefined;
  const bed = new TestBed('portcache-by-hand-');

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await bed.close();
  });

  async function start(manifests: Record<string, Buffer>) {
    const entries: Record<string, string> = {};
    const lines: Record<string, string> = {};
    for (const [name, body] of Object.entries(manifests)) {
      entries[`app-misc/${name.split('-')[0]}-1.0`] = `EAPI=8\nSRC_URI=mirror://gentoo/${name}\n`;
      lines[`app-misc/${name.split('-')[0]}`] = distLine(name, body);
    }
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries,
      manifests: lines,
    });
    mirror = await bed.upstream('hashed');
    for (const [name, body] of Object.entries(manifests)) mirror.add(name, body);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_REPOS: repo });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  /** As an admin would: written beside, then renamed into `<cache>/<xx>/<name>` while portcache runs. */
  async function placeByHand(cacheDir: string, name: string, body: Buffer) {
    const dir = join(cacheDir, blake2bPrefix(name));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `.${name}.tmp`), body);
    await rename(join(dir, `.${name}.tmp`), join(dir, name));
  }

  it('a request for one not yet verified is answered from it after verifying, without any upstream request', async () => {
    const body = randomBytes(3 * 1024 * KiB);
    const name = 'handmade-1.0.tar.gz';
    const running = await start({ [name]: body });
    await placeByHand(running.cacheDir, name, body);
    expect(running.app.get(CacheStore).get(name)).toBeUndefined();

    // Concurrent requests share one hashing; all are hits from the file.
    const responses = await Promise.all(
      Array.from({ length: 4 }, () => fetchDistfile(`${running.url}/distfiles/${name}`)),
    );
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.error).toBeUndefined();
      expect(sha(response.body)).toBe(sha(body));
    }
    expect(mirror?.requestsFor(name)).toEqual([]);
    const cached = running.app.get(CacheStore).get(name);
    expect(cached?.digests.BLAKE2B).toBe(digestOf('blake2b512', body));
    // Recorded: the next start trusts it without hashing.
    expect(existsSync(join(running.cacheDir, '.portcache', 'meta', blake2bPrefix(name), name))).toBe(true);
  });

  it('one that does not match its Manifest is quarantined and the request is a normal miss', async () => {
    const truth = randomBytes(512 * KiB);
    const name = 'tampered-1.0.tar.gz';
    const running = await start({ [name]: truth });
    await placeByHand(running.cacheDir, name, randomBytes(512 * KiB));
    const response = await fetchDistfile(`${running.url}/distfiles/${name}`);
    expect(response.status).toBe(200);
    expect(sha(response.body)).toBe(sha(truth));
    expect(mirror?.requestsFor(name)).toHaveLength(1);
    const quarantine = join(running.cacheDir, '.portcache', 'quarantine');
    expect((await readdir(quarantine)).length).toBe(1);
  });
});

/**
 * A portcache that cannot see the command's directory, as on another machine: a loopback proxy
 * whose import endpoint answers 404, passing everything else on. Logs "METHOD path" of each request.
 */
async function blindProxy(target: string): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const { hostname, port } = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url === '/api/v1/import') {
      req.resume();
      req.on('end', () => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 404, message: '/x: no such directory on the server' }));
      });
      return;
    }
    const upstream = httpRequest(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
