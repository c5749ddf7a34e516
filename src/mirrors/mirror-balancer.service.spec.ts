import { beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../common/clock.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { MirrorBalancer } from './mirror-balancer.service.js';

class FakeClock extends Clock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
}

const A = 'http://a.example';
const B = 'http://b.example';
const C = 'http://c.example';

describe('MirrorBalancer', () => {
  let clock: FakeClock;
  let balancer: MirrorBalancer;

  beforeEach(() => {
    clock = new FakeClock();
    const config = PortcacheConfig.fromEnv({
      PORTCACHE_MIRRORS: `${A} ${B} ${C}`,
      PORTCACHE_MIRROR_CONCURRENCY: '2',
    });
    balancer = new MirrorBalancer(config, clock);
    balancer.explorationRate = 0;
  });

  const pick = (name = 'f.tar.gz', exclude: string[] = []) => {
    const lease = balancer.acquire(name, new Set(exclude));
    lease?.release();
    return lease?.mirror;
  };

  it('starts in configuration order, then prefers the measured fastest mirror', () => {
    expect(pick()).toBe(A);
    balancer.recordResponse(A, 200);
    balancer.recordTransfer(A, 16 * 1024 * 1024, 4);
    balancer.recordResponse(B, 20);
    balancer.recordTransfer(B, 16 * 1024 * 1024, 1);
    expect(pick()).toBe(B);
    expect(balancer.snapshot().map((m) => m.url)).toEqual([B, A, C]);
  });

  it('explores another healthy mirror now and then', () => {
    balancer.explorationRate = 1;
    balancer.random = () => 0;
    expect(pick()).toBe(B);
  });

  it('opens the circuit after repeated failures and probes it once after the backoff', () => {
    for (let i = 0; i < 3; i++) balancer.recordFailure(A, 'connection refused');
    expect(balancer.snapshot().find((m) => m.url === A)?.circuit).toBe('open');
    expect(pick()).toBe(B);

    clock.time += 30_000;
    expect(balancer.snapshot().find((m) => m.url === A)?.circuit).toBe('half-open');
    const probe = balancer.acquire('f.tar.gz');
    expect(probe?.mirror).toBe(A);
    // Only one probe at a time.
    expect(pick()).toBe(B);
    balancer.recordFailure(A, 'still refused');
    probe?.release();
    // Failed probe: open again, for twice as long.
    clock.time += 30_000;
    expect(balancer.snapshot().find((m) => m.url === A)?.circuit).toBe('open');
    clock.time += 30_000;
    const second = balancer.acquire('f.tar.gz');
    expect(second?.mirror).toBe(A);
    balancer.recordResponse(A, 50);
    second?.release();
    expect(balancer.snapshot().find((m) => m.url === A)?.circuit).toBe('closed');
  });

  it('remembers a 404 for that file only, for a while, without blaming the mirror', () => {
    balancer.recordNotFound(A, 'gone.tar.gz');
    expect(pick('gone.tar.gz')).toBe(B);
    expect(pick('other.tar.gz')).toBe(A);
    expect(balancer.snapshot().find((m) => m.url === A)?.circuit).toBe('closed');
    clock.time += 11 * 60_000;
    expect(pick('gone.tar.gz')).toBe(A);
  });

  it('respects the per-mirror concurrency limit', () => {
    const leases = [balancer.acquire('1'), balancer.acquire('2')];
    expect(leases.map((l) => l?.mirror)).toEqual([A, A]);
    expect(pick('3')).toBe(B);
    expect(balancer.busy('3', new Set([B, C]))).toBe(true);
    leases[0]?.release();
    expect(pick('3')).toBe(A);
  });

  it('skips mirrors that already failed for this fill', () => {
    expect(pick('f', [A])).toBe(B);
    expect(pick('f', [A, B, C])).toBeUndefined();
  });
});
