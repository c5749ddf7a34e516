import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { makeGitRemote } from '../src/repository/testing/git-remote.js';
import { ForwardProxy } from './support/forward-proxy.js';
import { GitHttpServer } from './support/git-http-server.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { spawnServer } from './support/spawn-server.js';
import { distLine } from './support/strict-http.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';

/** Waits (bounded) until `check` holds. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (check()) return;
  throw new Error(`timed out waiting until ${what}`);
}

/** A self-signed certificate for `name`, which a child process can trust by NODE_EXTRA_CA_CERTS. */
async function certificateFor(name: string, dir: string): Promise<{ key: string; cert: string }> {
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await new Promise<void>((resolve, reject) =>
    execFile(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
        .concat(['-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`])
        .concat(['-addext', `subjectAltName=DNS:${name}`]),
      { timeout: 10_000 },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  return { key, cert };
}

/** Kills `child` and waits (bounded) for its exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(10_000)]);
}

/*
 * Names under .test resolve nowhere but in the test proxy's table (to 127.0.0.1), so a request
 * that reaches a `*.test` server went through the proxy. The proxy listens on 127.0.0.2, which
 * no test here trusts: the proxy's address is the operator's choice, not judged.
 */
describe('upstream HTTP proxy', () => {
  let portcache: RunningPortcache | undefined;
  const servers: Array<{ close(): Promise<void> }> = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function proxy(): Promise<ForwardProxy> {
    const server = await ForwardProxy.start('127.0.0.2', {
      'mirror.test': '127.0.0.1',
      'src.test': '127.0.0.1',
      'git.test': '127.0.0.1',
    });
    servers.push(server);
    return server;
  }

  async function upstream(layout: 'hashed' | 'flat'): Promise<UpstreamServer> {
    const server = await UpstreamServer.start(layout);
    servers.push(server);
    return server;
  }

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'portcache-proxy-'));
    dirs.push(dir);
    return dir;
  }

  /** An overlay whose packages fetch each name from its SRC_URI. */
  async function overlay(files: Record<string, { body: Buffer; srcUri: string }>): Promise<string> {
    const entries: Record<string, string> = {};
    const manifests: Record<string, string> = {};
    for (const [index, [name, { body, srcUri }]] of Object.entries(files).entries()) {
      entries[`app-misc/proxied${index}-1.0`] = `EAPI=8\nSRC_URI=${srcUri}\n`;
      manifests[`app-misc/proxied${index}`] = distLine(name, body);
    }
    return writeRepo(join(await tempDir(), 'overlay'), { name: 'overlay', entries, manifests });
  }

  async function start(env: Record<string, string>): Promise<RunningPortcache> {
    portcache = await startPortcache(env);
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const get = (name: string) => fetchDistfile(`${portcache?.url}/distfiles/${name}`);

  it("fills from a mirror only the proxy can reach, in absolute form with the proxy's credentials and without Accept-Encoding; a NO_PROXY host is reached directly", async () => {
    const forward = await proxy();
    const viaProxy = { name: 'via-proxy-1.0.tar.gz', body: randomBytes(300_000) };
    const direct = { name: 'direct-1.0.tar.gz', body: randomBytes(100_000) };
    const mirror = (await upstream('hashed')).add(viaProxy.name, viaProxy.body);
    const mirrorPort = new URL(mirror.url).port;
    const host = (await upstream('flat')).add(direct.name, direct.body);
    await start({
      PORTCACHE_MIRRORS: `http://mirror.test:${mirrorPort}`,
      PORTCACHE_HTTP_PROXY: forward.url.replace('//', '//portcache:s%40cret@'),
      PORTCACHE_NO_PROXY: 'example.org, 127.0.0.1',
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
      PORTCACHE_REPOS: await overlay({
        [direct.name]: { body: direct.body, srcUri: `${host.url}/distfiles/${direct.name}` },
      }),
    });

    const proxied = await get(viaProxy.name);
    expect(proxied.status).toBe(200);
    expect(proxied.body.equals(viaProxy.body)).toBe(true);
    const [file] = forward.log.filter((entry) => entry.target.endsWith(`/${viaProxy.name}`));
    expect(file.method).toBe('GET');
    expect(file.target).toMatch(new RegExp(`^http://mirror\\.test:${mirrorPort}/distfiles/[0-9a-f]{2}/`));
    expect(file.headers.host).toBe(`mirror.test:${mirrorPort}`);
    expect(file.headers['accept-encoding']).toBeUndefined();
    expect(file.headers['user-agent']).toMatch(/^portcache\//);
    expect(file.headers['proxy-authorization']).toBe(
      `Basic ${Buffer.from('portcache:s@cret').toString('base64')}`,
    );
    expect(forward.targets()).toContain(`http://mirror.test:${mirrorPort}/distfiles/layout.conf`);
    expect(mirror.requestsFor(viaProxy.name)).toHaveLength(1);

    const fetched = await get(direct.name);
    expect(fetched.status).toBe(200);
    expect(fetched.body.equals(direct.body)).toBe(true);
    expect(host.requestsFor(direct.name)).toHaveLength(1);
    expect(forward.targets(`:${new URL(host.url).port}/`)).toEqual([]);
    expect(forward.targets('127.0.0.1')).toEqual([]);
  });

  it('judges a proxied SRC_URI by what its host resolves to here: refused ones never reach the proxy', async () => {
    const forward = await proxy();
    const mirror = await upstream('hashed');
    const host = await upstream('flat');
    const port = new URL(host.url).port;
    const files = {
      byName: { name: 'by-name-1.0.tar.gz', body: randomBytes(20_000), host: `localhost:${port}` },
      byAddress: { name: 'by-address-1.0.tar.gz', body: randomBytes(20_000), host: `127.0.0.1:${port}` },
      proxyOnly: { name: 'proxy-only-1.0.tar.gz', body: randomBytes(20_000), host: `src.test:${port}` },
    };
    const sources: Record<string, { body: Buffer; srcUri: string }> = {};
    for (const { name, body, host: authority } of Object.values(files)) {
      host.add(name, body);
      sources[name] = { body, srcUri: `http://${authority}/distfiles/${name}` };
    }
    await start({
      PORTCACHE_MIRRORS: `http://mirror.test:${new URL(mirror.url).port}`,
      PORTCACHE_HTTP_PROXY: forward.url,
      // Nothing here is trusted: 127.0.0.1 is a loopback address like any other.
      PORTCACHE_TRUSTED_NETS: '127.0.0.3',
      PORTCACHE_REPOS: await overlay(sources),
    });

    const byName = await get(files.byName.name);
    expect(byName.status).toBe(404);
    expect(byName.body.toString()).toMatch(
      /refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address, which the proxy could connect to/,
    );
    const byAddress = await get(files.byAddress.name);
    expect(byAddress.status).toBe(404);
    expect(byAddress.body.toString()).toContain('refused: 127.0.0.1 is a loopback address');
    expect(forward.targets('localhost')).toEqual([]);
    expect(forward.targets('127.0.0.1')).toEqual([]);
    expect(host.requests).toEqual([]);

    // A name this host cannot resolve is the proxy's to judge (where only the proxy reaches DNS).
    const proxyOnly = await get(files.proxyOnly.name);
    expect(proxyOnly.status).toBe(200);
    expect(proxyOnly.body.equals(files.proxyOnly.body)).toBe(true);
    expect(forward.targets('src.test')).toEqual([
      `http://src.test:${port}/distfiles/${files.proxyOnly.name}`,
    ]);
  });

  it('syncs a git repository through the proxy', async () => {
    const forward = await proxy();
    const root = await tempDir();
    const { push } = await makeGitRemote(root, 'myrepo', 'remote');
    const body = randomBytes(1000);
    await push({
      'profiles/repo_name': 'myrepo\n',
      'metadata/layout.conf': 'masters = \n',
      'metadata/md5-cache/app-misc/one-1': 'EAPI=8\nSRC_URI=https://one.example/one-1.tar.gz\n',
      'app-misc/one/Manifest': distLine('one-1.tar.gz', body),
    });
    const git = await GitHttpServer.start(join(root, 'remote'));
    servers.push(git);
    await start({
      PORTCACHE_MIRRORS: (await upstream('hashed')).url,
      PORTCACHE_DATA_DIR: join(root, 'data'),
      PORTCACHE_SYNC_REPOS: `http://git.test:${git.port}/myrepo.git`,
      PORTCACHE_HTTP_PROXY: forward.url,
    });
    const resolver = portcache?.app.get(SrcUriResolver) as SrcUriResolver;
    await until('the clone is indexed', () => resolver.lookup('one-1.tar.gz')?.size === body.length);

    const origin = `http://git.test:${git.port}/myrepo.git`;
    expect(forward.targets(origin)).toEqual(
      expect.arrayContaining([`${origin}/info/refs?service=git-upload-pack`, `${origin}/git-upload-pack`]),
    );
    expect(git.requests.map((r) => `${r.method} ${r.path}`)).toContain('POST /myrepo.git/git-upload-pack');
  });

  it("keeps git off a proxy of portcache's own environment when PORTCACHE_HTTP_PROXY is none", async () => {
    const environmentProxy = await proxy();
    const root = await tempDir();
    const { push } = await makeGitRemote(root, 'myrepo', 'remote');
    const body = randomBytes(1000);
    await push({
      'profiles/repo_name': 'myrepo\n',
      'metadata/layout.conf': 'masters = \n',
      'metadata/md5-cache/app-misc/one-1': 'EAPI=8\nSRC_URI=https://one.example/one-1.tar.gz\n',
      'app-misc/one/Manifest': distLine('one-1.tar.gz', body),
    });
    const git = await GitHttpServer.start(join(root, 'remote'));
    servers.push(git);
    const saved = process.env.http_proxy;
    process.env.http_proxy = environmentProxy.url;
    try {
      await start({
        PORTCACHE_MIRRORS: (await upstream('hashed')).url,
        PORTCACHE_DATA_DIR: join(root, 'data'),
        PORTCACHE_SYNC_REPOS: `${git.url}/myrepo.git`,
        PORTCACHE_HTTP_PROXY: 'none',
      });
      const resolver = portcache?.app.get(SrcUriResolver) as SrcUriResolver;
      await until('the clone is indexed', () => resolver.lookup('one-1.tar.gz')?.size === body.length);
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
    expect(git.requests.map((r) => `${r.method} ${r.path}`)).toContain('POST /myrepo.git/git-upload-pack');
    expect(environmentProxy.log).toEqual([]);
  });

  it('reaches an https mirror through a CONNECT tunnel, with the proxy from HTTPS_PROXY of the environment (built server)', async () => {
    const forward = await proxy();
    const dir = await tempDir();
    const { key, cert } = await certificateFor('mirror.test', dir);
    const name = 'tunnelled-1.0.tar.gz';
    const body = randomBytes(200_000);
    const mirror = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      if (req.url !== `/distfiles/${name}`) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => mirror.close(() => resolve())) });
    mirror.on('connection', (socket) => servers.push({ close: async () => void socket.destroy() }));
    const port = (mirror.address() as AddressInfo).port;

    const server = await spawnServer(
      {
        PORTCACHE_CACHE_DIR: join(dir, 'cache'),
        PORTCACHE_REPOS: await overlay({}),
        PORTCACHE_MIRRORS: `https://mirror.test:${port}`,
        HTTPS_PROXY: forward.url,
        NODE_EXTRA_CA_CERTS: cert,
      },
      dir,
    );
    servers.push({ close: () => stop(server.child) });
    const response = await fetchDistfile(`${server.url}/distfiles/${name}`);
    expect(response.status).toBe(200);
    expect(response.body.equals(body)).toBe(true);
    expect(forward.log.map((entry) => `${entry.method} ${entry.target}`)).toContain(
      `CONNECT mirror.test:${port}`,
    );
    expect(forward.log.filter((entry) => entry.method !== 'CONNECT')).toEqual([]);
  });
});
