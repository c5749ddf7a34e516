import { describe, expect, it } from 'vitest';
import { PortcacheConfig } from './portcache-config.js';
import { parseDuration, parseSize } from './units.js';

describe('units', () => {
  it('parses binary sizes and durations', () => {
    expect(parseSize('500M')).toBe(500 * 2 ** 20);
    expect(parseSize('2G')).toBe(2 * 2 ** 30);
    expect(parseSize('1.5T')).toBe(1.5 * 2 ** 40);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('12X')).toBeUndefined();
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('30')).toBeUndefined();
  });
});

describe('PortcacheConfig', () => {
  it('has a working default for everything', () => {
    const config = PortcacheConfig.fromEnv({});
    expect(config.host).toBe('::');
    expect(config.port).toBe(8080);
    expect(config.cacheDir).toMatch(/\/var\/cache\/distfiles$/);
    expect(config.mirrors).toEqual([
      'https://distfiles.gentoo.org',
      'https://gentoo.osuosl.org',
      'https://ftp.halifax.rwth-aachen.de/gentoo',
    ]);
    expect(config.stallTimeoutMs).toBe(15_000);
    expect(config.adminToken).toBeUndefined();
  });

  it('reads lists like GENTOO_MIRRORS', () => {
    const config = PortcacheConfig.fromEnv({
      PORTCACHE_MIRRORS: '  http://a.example/gentoo/ \n https://b.example ',
    });
    expect(config.mirrors).toEqual(['http://a.example/gentoo', 'https://b.example']);
  });

  const bad: Array<[string, string]> = [
    ['PORTCACHE_HOST', 'no spaces allowed'],
    ['PORTCACHE_PORT', '80808'],
    ['PORTCACHE_PORT', 'http'],
    ['PORTCACHE_CACHE_DIR', '   '],
    ['PORTCACHE_MIRRORS', 'ftp://old.example/gentoo'],
    ['PORTCACHE_MIRRORS', 'not-a-url'],
    ['PORTCACHE_CONNECT_TIMEOUT', '10'],
    ['PORTCACHE_STALL_TIMEOUT', 'soon'],
    ['PORTCACHE_ADMIN_TOKEN', 'short'],
    ['PORTCACHE_MIN_RATE', 'fast'],
    ['PORTCACHE_REPOS', '--all'],
    ['PORTCACHE_SYNC_REPOS', 'github.com/gentoo-mirror/gentoo'],
    ['PORTCACHE_SYNC_INTERVAL', 'hourly'],
    ['PORTCACHE_QUARANTINE_DAYS', '2w'],
  ];
  it.each(bad)('refuses %s=%j, naming the variable, the value and what is allowed', (name, value) => {
    expect(() => PortcacheConfig.fromEnv({ [name]: value })).toThrow(
      new RegExp(`${name}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: must be`),
    );
  });
});
