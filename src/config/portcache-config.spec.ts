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

  it('reads the janitor limits', () => {
    const config = PortcacheConfig.fromEnv({
      PORTCACHE_MAX_SIZE: '500G',
      PORTCACHE_MIN_FREE: '10%',
      PORTCACHE_MAX_AGE: '365d',
      PORTCACHE_UNREFERENCED_GRACE: 'off',
      PORTCACHE_JANITOR_INTERVAL: '0 */6 * * *',
    });
    expect(config.maxSizeBytes).toBe(500 * 2 ** 30);
    expect(config.lowWatermark).toBe(0.9);
    expect(config.minFree).toEqual({ fraction: 0.1 });
    expect(config.maxAgeMs).toBe(365 * 86_400_000);
    expect(config.unreferencedGraceMs).toBeUndefined();
    expect(config.unreferencedMaxShare).toBe(0.1);
    expect(config.janitorSchedule).toEqual({ cron: '0 */6 * * *' });
    const defaults = PortcacheConfig.fromEnv({});
    expect(defaults.maxSizeBytes).toBeUndefined();
    expect(defaults.unreferencedGraceMs).toBe(30 * 86_400_000);
    expect(defaults.janitorSchedule).toEqual({ everyMs: 3_600_000 });
    expect(PortcacheConfig.fromEnv({ PORTCACHE_MIN_FREE: '20G' }).minFree).toEqual({ bytes: 20 * 2 ** 30 });
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
    ['PORTCACHE_CLIENT_TIMEOUT', '15'],
    ['PORTCACHE_TRUSTED_NETS', '10.0.0.0/33'],
    ['PORTCACHE_TRUSTED_NETS', 'lan'],
    ['PORTCACHE_MAX_SIZE', '0'],
    ['PORTCACHE_MAX_SIZE', 'half'],
    ['PORTCACHE_LOW_WATERMARK', '100%'],
    ['PORTCACHE_LOW_WATERMARK', '0.9'],
    ['PORTCACHE_MIN_FREE', '100%'],
    ['PORTCACHE_MIN_FREE', 'lots'],
    ['PORTCACHE_MAX_AGE', '1y'],
    ['PORTCACHE_UNREFERENCED_GRACE', 'never'],
    ['PORTCACHE_UNREFERENCED_MAX_SHARE', '0%'],
    ['PORTCACHE_JANITOR_INTERVAL', '100ms'],
    ['PORTCACHE_JANITOR_INTERVAL', 'hourly'],
  ];
  it.each(bad)('refuses %s=%j, naming the variable, the value and what is allowed', (name, value) => {
    expect(() => PortcacheConfig.fromEnv({ [name]: value })).toThrow(
      new RegExp(`${name}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: must be`),
    );
  });
});
