import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { distLine } from './support/strict-http.js';
import { UpstreamServer } from './support/upstream-server.js';
import { waitForCommit } from './support/wait.js';

/** A loopback HTTP server answering from a route table; counts connections, so "never reached" is checkable. */
interface RouteServer {
  url: string;
  port: number;
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
  connections: number;
  close(): Promise<void>;
}

type Route = { location: string; status?: number } | { body: Buffer };

async function routeServer(
  host: '127.0.0.1' | '127.0.0.2',
  routes: Record<string, Route>,
): Promise<RouteServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    result.requests.push({ path, headers: req.headers });
    answer(res, routes[path]);
  });
  server.on('connection', (socket) => {
    result.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const result: RouteServer = {
    url: `http://${host}:${port}`,
    port,
    requests: [],
    connections: 0,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return result;
}

function answer(res: ServerResponse, route: Route | undefined): void {
  if (!route) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not here\n');
  if ('location' in route) {
    return void res
      .writeHead(route.status ?? 302, { location: route.location, 'content-type': 'text/html' })
      .end('<a>moved</a>');
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': route.body.length });
  res.end(route.body);
}

describe('upstream redirects and non-public addresses', () => {
  let portcache: RunningPortcache | undefined;
  const servers: Array<{ close(): Promise<void> }> = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function serve(host: '127.0.0.1' | '127.0.0.2', routes: Record<string, Route>) {
    const server = await routeServer(host, routes);
    servers.push(server);
    return server;
  }

  /** A configured mirror that has nothing, so the SRC_URI is what gets asked. */
  async function emptyMirror() {
    const server = await UpstreamServer.start('hashed');
    servers.push(server);
    return server;
  }

  /** portcache with an overlay whose only source for `name` is `srcUri`. */
  async function startWithSrcUri(name: string, body: Buffer, srcUri: string, env: Record<string, string>) {
    const dir = await mkdtemp(join(tmpdir(), 'portcache-addresses-'));
    dirs.push(dir);
    const repo = await writeRepo(join(dir, 'overlay'), {
      name: 'overlay',
      entries: { 'app-misc/addr-test-1.0': `EAPI=8\nSRC_URI=${srcUri}\n` },
      manifests: { 'app-misc/addr-test': distLine(name, body) },
    });
    portcache = await startPortcache({ PORTCACHE_REPOS: repo, ...env });
    await portcache.app.get(SrcUriResolver).whenReady();
    return portcache;
  }

  const get = (name: string) => fetchDistfile(`${portcache?.url}/distfiles/${name}`);

  it('follows two redirects between allowed hosts, a relative Location included, then serves and caches the file', async () => {
    const name = 'two-hops-1.0.tar.gz';
    const body = randomBytes(200_000);
    const final = await serve('127.0.0.1', {
      [`/a/${name}`]: { location: `../b/${name}`, status: 307 },
      [`/b/${name}`]: { body },
    });
    const mirror = await serve('127.0.0.1', {
      [`/distfiles/${name}`]: { location: `${final.url}/a/${name}` },
    });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });

    const response = await get(name);
    expect(response.status).toBe(200);
    expect(response.error).toBeUndefined();
    expect(response.body.equals(body)).toBe(true);
    expect(final.requests.map((r) => r.path)).toEqual([`/a/${name}`, `/b/${name}`]);
    for (const { headers } of final.requests) {
      expect(headers['accept-encoding']).toBeUndefined();
      expect(headers['user-agent']).toMatch(/^portcache\//);
    }
    await waitForCommit(portcache, name);

    const hit = await get(name);
    expect(hit.body.equals(body)).toBe(true);
    expect(final.requests).toHaveLength(2);
  });

  it('follows five redirects and refuses a sixth', async () => {
    const body = randomBytes(10_000);
    const routes: Record<string, Route> = {};
    for (const [name, hops] of [
      ['five-hops-1.0.tar.gz', 5],
      ['six-hops-1.0.tar.gz', 6],
    ] as const) {
      routes[`/distfiles/${name}`] = { location: `/hop/1/${name}` };
      for (let hop = 1; hop < hops; hop++)
        routes[`/hop/${hop}/${name}`] = { location: `/hop/${hop + 1}/${name}` };
      routes[`/hop/${hops}/${name}`] = { body };
    }
    const mirror = await serve('127.0.0.1', routes);
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });

    const five = await get('five-hops-1.0.tar.gz');
    expect(five.status).toBe(200);
    expect(five.body.equals(body)).toBe(true);

    const six = await get('six-hops-1.0.tar.gz');
    expect(six.status).toBe(404);
    expect(six.body.toString()).toContain('refused: more than 5 redirects');
    const asked = mirror.requests.map((r) => r.path).filter((path) => path.includes('six-hops'));
    expect(asked).toHaveLength(6);
    expect(asked).not.toContain('/hop/6/six-hops-1.0.tar.gz');
  });

  it('refuses redirects to ftp: and file: URLs', async () => {
    // Something listens where the ftp: redirect points, to show it is never reached.
    const ftp = await serve('127.0.0.1', {});
    const mirror = await serve('127.0.0.1', {
      '/distfiles/ftp-1.0.tar.gz': { location: `ftp://127.0.0.1:${ftp.port}/ftp-1.0.tar.gz` },
      '/distfiles/file-1.0.tar.gz': { location: 'file:///etc/passwd', status: 301 },
    });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url });

    const viaFtp = await get('ftp-1.0.tar.gz');
    expect(viaFtp.status).toBe(404);
    expect(viaFtp.body.toString()).toContain(
      'refused: redirect to a ftp: URL (only http and https are followed)',
    );
    const viaFile = await get('file-1.0.tar.gz');
    expect(viaFile.status).toBe(404);
    expect(viaFile.body.toString()).toContain('refused: redirect to a file: URL');
    expect(ftp.connections).toBe(0);
  });

  it("refuses a mirror's redirect to an address that is neither a mirror host nor trusted, and never connects to it", async () => {
    const name = 'elsewhere-1.0.tar.gz';
    const other = await serve('127.0.0.2', { [`/${name}`]: { body: randomBytes(1000) } });
    const mirror = await serve('127.0.0.1', { [`/distfiles/${name}`]: { location: `${other.url}/${name}` } });
    portcache = await startPortcache({ PORTCACHE_MIRRORS: mirror.url, PORTCACHE_TRUSTED_NETS: '127.0.0.1' });

    const response = await get(name);
    expect(response.status).toBe(404);
    expect(response.body.toString()).toContain(
      `refused: redirect to ${other.url}/${name}: 127.0.0.2 is a loopback address (PORTCACHE_TRUSTED_NETS)`,
    );
    expect(other.connections).toBe(0);
  });

  it("refuses a SRC_URI's redirect to an untrusted address, and never connects to it", async () => {
    const name = 'src-redirect-1.0.tar.gz';
    const body = randomBytes(1000);
    const other = await serve('127.0.0.2', { [`/${name}`]: { body } });
    const host = await serve('127.0.0.1', { [`/${name}`]: { location: `${other.url}/${name}` } });
    // The mirror is named `localhost`: 127.0.0.1 is allowed only as a trusted net.
    const mirror = await emptyMirror();
    await startWithSrcUri(name, body, `${host.url}/${name}`, {
      PORTCACHE_MIRRORS: mirror.url.replace('127.0.0.1', 'localhost'),
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
    });

    const response = await get(name);
    expect(response.status).toBe(404);
    expect(response.body.toString()).toContain(
      `refused: redirect to ${other.url}/${name}: 127.0.0.2 is a loopback`,
    );
    expect(host.requests).toHaveLength(1);
    expect(other.connections).toBe(0);
  });

  it('refuses a SRC_URI on an untrusted address without connecting, and fetches it once its net is trusted', async () => {
    const name = 'untrusted-src-1.0.tar.gz';
    const body = randomBytes(50_000);
    const host = await serve('127.0.0.2', { [`/${name}`]: { body } });
    const mirror = await emptyMirror();
    await startWithSrcUri(name, body, `${host.url}/${name}`, {
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
    });

    const refused = await get(name);
    expect(refused.status).toBe(404);
    expect(refused.body.toString()).toContain(
      `${host.url}/${name}: refused: 127.0.0.2 is a loopback address (PORTCACHE_TRUSTED_NETS)`,
    );
    expect(host.connections).toBe(0);

    await portcache?.close();
    await startWithSrcUri(name, body, `${host.url}/${name}`, {
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_TRUSTED_NETS: '127.0.0.0/8',
    });
    const fetched = await get(name);
    expect(fetched.status).toBe(200);
    expect(fetched.body.equals(body)).toBe(true);
  });

  it('judges a host name by the address it resolves to: localhost is refused unless 127.0.0.1 is trusted', async () => {
    const name = 'by-name-1.0.tar.gz';
    const body = randomBytes(50_000);
    const host = await serve('127.0.0.1', { [`/${name}`]: { body } });
    const srcUri = `http://localhost:${host.port}/${name}`;
    const mirror = await emptyMirror();
    await startWithSrcUri(name, body, srcUri, {
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_TRUSTED_NETS: '127.0.0.2',
    });

    const refused = await get(name);
    expect(refused.status).toBe(404);
    expect(refused.body.toString()).toMatch(/refused: localhost resolves only to [^)]*a loopback address/);
    expect(host.connections).toBe(0);

    await portcache?.close();
    await startWithSrcUri(name, body, srcUri, {
      PORTCACHE_MIRRORS: mirror.url,
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
    });
    const fetched = await get(name);
    expect(fetched.status).toBe(200);
    expect(fetched.body.equals(body)).toBe(true);
  });
});
