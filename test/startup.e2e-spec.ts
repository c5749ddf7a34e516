import { afterAll, describe, expect, it } from 'vitest';
import { fetchDistfile } from './support/http-client.js';
import { makeTempDir, startPortcache } from './support/portcache.js';
import { spawnServer } from './support/spawn-server.js';

describe('startup', () => {
  const cleanup: Array<() => unknown> = [];
  afterAll(async () => {
    for (const step of cleanup) await step();
  });

  it('starts the built server and answers the probes', async () => {
    const dir = await makeTempDir();
    const server = await spawnServer({ PORTCACHE_CACHE_DIR: dir, PORTCACHE_MIRRORS: 'http://127.0.0.1:1' });
    cleanup.push(() => server.child.kill('SIGKILL'));
    expect((await fetchDistfile(`${server.url}/health/live`)).status).toBe(200);
    expect((await fetchDistfile(`${server.url}/health/ready`)).status).toBe(200);
    const metrics = await fetchDistfile(`${server.url}/metrics`);
    expect(metrics.body.toString()).toContain('portcache_distfile_requests_total');
  });

  it.each([
    ['PORTCACHE_PORT', 'eighty'],
    ['PORTCACHE_MIRRORS', 'distfiles.gentoo.org'],
    ['PORTCACHE_STALL_TIMEOUT', '15'],
  ])('refuses to start with %s=%s and says why', async (name, value) => {
    const failure = (await spawnServer({ [name]: value }).catch((error) => error)) as {
      code: number;
      output: string;
    };
    expect(failure.code).toBe(2);
    expect(failure.output).toContain(`${name}="${value}": must be`);
  });

  it('refuses a bad value inside the Nest module too (tests and embedders)', async () => {
    await expect(startPortcache({ PORTCACHE_CONNECT_TIMEOUT: 'forever' })).rejects.toThrow(
      /PORTCACHE_CONNECT_TIMEOUT="forever": must be a duration/,
    );
  });
});
