import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { blake2bPrefix } from '../src/common/layout.js';
import type { LogOutput } from '../src/logging/log-writer.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { sleep, UpstreamServer } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

const TOKEN = 'logging-test-token-0123456789';

/** What portcache wrote, as its lines. */
class CollectedLog implements LogOutput {
  private text = '';
  write(chunk: string, callback: (error?: Error | null) => void): boolean {
    this.text += chunk;
    callback();
    return true;
  }
  lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

interface JsonLine {
  time: string;
  level: string;
  context?: string;
  msg: string;
  requestId?: string;
  method?: string;
  path?: string;
  status?: number;
  bytes?: number;
  durationMs?: number;
  result?: string;
  source?: string;
  client?: string;
  completed?: boolean;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    if (check()) return;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

const distfile = (base: string, name: string) => `${base}/distfiles/${blake2bPrefix(name)}/${name}`;

describe('logs', () => {
  let upstream: UpstreamServer | undefined;
  let portcache: RunningPortcache | undefined;
  afterEach(async () => {
    await portcache?.close();
    await upstream?.close();
    portcache = undefined;
    upstream = undefined;
  });

  async function start(format: 'json' | 'text', env: Record<string, string> = {}) {
    upstream = await UpstreamServer.start('hashed');
    const log = new CollectedLog();
    portcache = await startPortcache(
      { PORTCACHE_MIRRORS: upstream.url, PORTCACHE_LOG_FORMAT: format, PORTCACHE_ADMIN_TOKEN: TOKEN, ...env },
      { logOutput: log },
    );
    return { upstream, portcache, log };
  }

  it('JSON: every line parses; one access line per request, /distfiles/ and /api, /metrics, /health alike', async () => {
    const { upstream, portcache, log } = await start('json');
    const slow = 'joined-1.0.tar.gz';
    const slowBody = randomBytes(300 * 1024);
    upstream.add(slow, slowBody, { rate: 600_000 });
    const base = portcache.url;

    // A miss and a request that joins its fill while it runs.
    const first = fetchDistfile(distfile(base, slow));
    await waitForFillAt(portcache, slow, 1);
    const second = fetchDistfile(distfile(base, slow));
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status, a.error, b.error]).toEqual([200, 200, undefined, undefined]);
    await waitForCommit(portcache, slow);
    // A hit, the layout, a file nobody has, the other routers.
    expect((await fetchDistfile(distfile(base, slow))).status).toBe(200);
    expect((await fetchDistfile(`${base}/distfiles/layout.conf`)).status).toBe(200);
    expect((await fetchDistfile(distfile(base, 'nowhere-1.0.tar.gz'))).status).toBe(404);
    expect((await fetchDistfile(`${base}/api/v1/mirrors`)).status).toBe(200);
    expect((await fetchDistfile(`${base}/metrics?x=1`)).status).toBe(200);
    expect((await fetchDistfile(`${base}/health/live`)).status).toBe(200);
    expect((await fetchDistfile(`${base}/api/v1/no-such-route`)).status).toBe(404);
    const asked = [
      ['GET', `/distfiles/${blake2bPrefix(slow)}/${slow}`, 200],
      ['GET', `/distfiles/${blake2bPrefix(slow)}/${slow}`, 200],
      ['GET', `/distfiles/${blake2bPrefix(slow)}/${slow}`, 200],
      ['GET', '/distfiles/layout.conf', 200],
      ['GET', `/distfiles/${blake2bPrefix('nowhere-1.0.tar.gz')}/nowhere-1.0.tar.gz`, 404],
      ['GET', '/api/v1/mirrors', 200],
      ['GET', '/metrics', 200],
      ['GET', '/health/live', 200],
      ['GET', '/api/v1/no-such-route', 404],
    ];

    const parsed = () => log.lines().map((line) => JSON.parse(line) as JsonLine);
    const access = () => parsed().filter((line) => line.context === 'access');
    await until('every request is logged', () => access().length >= asked.length);
    await sleep(200); // and no request twice
    const lines = parsed();
    for (const line of lines) {
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(['info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
    }
    const entries = access();
    expect(entries.map((e) => [e.method, e.path, e.status]).sort()).toEqual([...asked].sort());
    expect(new Set(entries.map((e) => e.requestId)).size).toBe(asked.length);
    for (const entry of entries) {
      expect(entry.requestId).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
      expect(entry.client).toBe('127.0.0.1');
      expect(entry.bytes).toBeGreaterThan(0);
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
      expect(entry.completed).toBe(true);
    }
    const ofSlow = entries.filter((e) => e.path?.endsWith(`/${slow}`)).map((e) => `${e.result}/${e.source}`);
    expect(ofSlow.sort()).toEqual(['hit/cache', 'joined/fill', 'miss/fill']);
    const miss = entries.find((e) => e.result === 'miss');
    expect(miss?.bytes).toBeGreaterThan(slowBody.length);
    expect(entries.find((e) => e.path === '/api/v1/mirrors')?.result).toBeUndefined();
  });

  for (const sendfile of ['on', 'off']) {
    it(`PORTCACHE_SENDFILE=${sendfile}: a hit's access line counts every byte of its body`, async () => {
      const { upstream, portcache, log } = await start('json', { PORTCACHE_SENDFILE: sendfile });
      const name = `counted-${sendfile}-1.0.tar.gz`;
      const body = randomBytes(3 * 1024 * 1024);
      upstream.add(name, body);
      expect((await fetchDistfile(distfile(portcache.url, name))).body.equals(body)).toBe(true);
      await waitForCommit(portcache, name);
      expect((await fetchDistfile(distfile(portcache.url, name))).body.equals(body)).toBe(true);
      const access = () =>
        log
          .lines()
          .map((line) => JSON.parse(line) as JsonLine)
          .filter((line) => line.context === 'access' && line.result === 'hit');
      await until('the hit is logged', () => access().length === 1);
      expect(access()[0].bytes).toBeGreaterThan(body.length);
      expect(access()[0].bytes).toBeLessThan(body.length + 1024);
      const says = log.lines().some((line) => line.includes('not with sendfile(2): PORTCACHE_SENDFILE=off'));
      expect(says).toBe(sendfile === 'off');
    });
  }

  it('a request id links the access line to the lines logged while the request was handled', async () => {
    const { portcache, log } = await start('json');
    const name = 'missing-2.0.tar.xz';
    expect((await fetchDistfile(distfile(portcache.url, name))).status).toBe(404);
    const run = await fetch(`${portcache.url}/api/v1/janitor/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(run.status).toBe(200);
    await run.arrayBuffer();

    const parsed = () => log.lines().map((line) => JSON.parse(line) as JsonLine);
    const accessOf = (path: string) => parsed().find((l) => l.context === 'access' && l.path === path);
    await until(
      'both requests are logged',
      () => !!accessOf('/api/v1/janitor/run') && !!accessOf(`/distfiles/${blake2bPrefix(name)}/${name}`),
    );

    // The fill the miss started warned that no mirror has the file, inside that request.
    const miss = accessOf(`/distfiles/${blake2bPrefix(name)}/${name}`) as JsonLine;
    const warning = parsed().find((l) => l.level === 'warn' && l.msg.includes(`${name}: not found upstream`));
    expect(warning?.requestId).toBeDefined();
    expect(warning?.requestId).toBe(miss.requestId);
    // A Fastify route: the janitor run's summary line carries the id of the POST.
    const post = accessOf('/api/v1/janitor/run') as JsonLine;
    const linked = parsed().filter((l) => l.requestId === post.requestId && l.context !== 'access');
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.some((l) => l.context === 'JanitorScheduler' || /janitor/i.test(l.msg))).toBe(true);
    // Lines logged outside any request carry no id.
    expect(parsed().find((l) => l.context === 'NestApplication')?.requestId).toBeUndefined();
  });

  it('text: readable lines, the access line with what a person needs', async () => {
    const { upstream, portcache, log } = await start('text');
    const name = 'text-1.0.tar.gz';
    upstream.add(name, randomBytes(10_000));
    expect((await fetchDistfile(distfile(portcache.url, name))).status).toBe(200);
    await waitForCommit(portcache, name);
    expect((await fetchDistfile(distfile(portcache.url, name))).status).toBe(200);
    expect((await fetchDistfile(`${portcache.url}/health/live`)).status).toBe(200);

    const access = () => log.lines().filter((line) => / INFO {2}access /.test(line));
    await until('the requests are logged', () => access().length >= 3);
    for (const line of log.lines().filter((l) => /^\d{4}-/.test(l))) {
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR) \S+ /);
      expect(() => JSON.parse(line)).toThrow();
    }
    const path = `/distfiles/${blake2bPrefix(name)}/${name}`;
    const [missLine, hitLine, healthLine] = access();
    const id = /\[req (\S+)\]/;
    expect(missLine).toMatch(
      new RegExp(
        `access \\[req \\S+\\] 127\\.0\\.0\\.1 GET ${path.replace(/\./g, '\\.')} 200 \\d+B [\\d.]+ms miss/fill$`,
      ),
    );
    expect(hitLine).toMatch(/ 200 \d+B [\d.]+ms hit\/cache$/);
    expect(healthLine).toMatch(/ GET \/health\/live 200 \d+B [\d.]+ms -$/);
    // The fill's line (cached N bytes from ...) carries the id of the miss.
    const missId = id.exec(missLine)?.[1];
    const cached = log.lines().find((l) => l.includes(`${name}: cached 10000 bytes`));
    expect(cached).toContain(`FillVerdicts [req ${missId}]`);
  });
});
