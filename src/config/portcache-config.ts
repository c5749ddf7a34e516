import { resolve } from 'node:path';
import { type PortcacheEnv, validateEnv } from './portcache-env.js';
import {
  isCronExpression,
  parseDuration,
  parseList,
  parsePercent,
  parseSize,
  parseSizeOrShare,
  type SizeOrShare,
} from './units.js';

/** The typed configuration, read once at startup. Services inject this, never process.env. */
export class PortcacheConfig {
  host: string;
  port: number;
  /** Absolute. */
  cacheDir: string;
  /** Mirror base URLs as in GENTOO_MIRRORS, without a trailing slash. */
  mirrors: string[];
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  /** A client that takes no byte of a response for this long is cut off. */
  clientTimeoutMs: number;
  /** Worker threads that hash fills and files: 2 hash BLAKE2B and SHA512 side by side. */
  hashThreads: 1 | 2;
  /** Cached files go to clients with sendfile(2) when dist/native/sendfile.node was built. */
  sendfile: boolean;
  /**
   * Private, loopback or link-local addresses (IP or CIDR) that SRC_URIs and redirects may
   * reach; configured mirrors may always be such addresses.
   */
  trustedNets: string[];
  adminToken: string | undefined;
  /** Simultaneous upstream downloads; further misses queue. */
  maxFills: number;
  /** How long a miss may wait for a fill slot before 503. */
  queueWaitMs: number;
  /** Bytes per second below which a fill moves to another mirror (0: never). */
  minRate: number;
  /** Simultaneous requests to one mirror. */
  mirrorConcurrency: number;
  /** Repository directories given by PORTCACHE_REPOS (absolute); empty: found as Portage does. */
  repos: string[];
  /** Absolute; synced repositories live under it. */
  dataDir: string;
  /** Git URLs of repositories portcache clones and fetches itself. */
  syncRepos: string[];
  syncIntervalMs: number;
  /** How often repositories on disk are checked for changes (a cheap stat when nothing changed). */
  repoCheckIntervalMs: number;
  /** Days a file that failed verification is kept for inspection. */
  quarantineDays: number;
  /** The janitor's limits; undefined: that policy is off. */
  maxSizeBytes: number | undefined;
  /** Eviction for size or free space goes down to this share of the limit (0.9). */
  lowWatermark: number;
  minFree: SizeOrShare | undefined;
  maxAgeMs: number | undefined;
  unreferencedGraceMs: number | undefined;
  /** Share of the cache's bytes one run may remove as unreferenced. */
  unreferencedMaxShare: number;
  /** How often the janitor runs: every so many ms, or at the times of a cron expression. */
  janitorSchedule: { everyMs: number } | { cron: string };
  /** On SIGTERM, responses in progress get this long to finish before fills are ended. */
  shutdownGraceMs: number;
  /** Undefined: text on a terminal, JSON otherwise. */
  logFormat: 'json' | 'text' | undefined;
  /**
   * Upstream proxies (HTTP requests, git sync): PORTCACHE_* when set ('none': no proxy), else
   * HTTP_PROXY / HTTPS_PROXY / NO_PROXY of the environment (either case).
   */
  proxy: { http: string | undefined; https: string | undefined; noProxy: string | undefined };

  static fromEnv(raw: Record<string, string | undefined>): PortcacheConfig {
    return PortcacheConfig.fromValidated(validateEnv(raw), raw);
  }

  private static fromValidated(env: PortcacheEnv, raw: Record<string, string | undefined>): PortcacheConfig {
    const config = new PortcacheConfig();
    config.host = env.PORTCACHE_HOST;
    config.port = Number(env.PORTCACHE_PORT);
    config.cacheDir = resolve(env.PORTCACHE_CACHE_DIR);
    config.mirrors = parseList(env.PORTCACHE_MIRRORS).map((url) => url.replace(/\/+$/, ''));
    config.connectTimeoutMs = parseDuration(env.PORTCACHE_CONNECT_TIMEOUT) as number;
    config.stallTimeoutMs = parseDuration(env.PORTCACHE_STALL_TIMEOUT) as number;
    config.clientTimeoutMs = env.PORTCACHE_CLIENT_TIMEOUT
      ? (parseDuration(env.PORTCACHE_CLIENT_TIMEOUT) as number)
      : config.stallTimeoutMs;
    config.hashThreads = env.PORTCACHE_HASH_THREADS === '2' ? 2 : 1;
    config.sendfile = env.PORTCACHE_SENDFILE === 'on';
    config.trustedNets = parseList(env.PORTCACHE_TRUSTED_NETS ?? '');
    config.adminToken = env.PORTCACHE_ADMIN_TOKEN;
    config.maxFills = Number(env.PORTCACHE_MAX_FILLS);
    config.queueWaitMs = parseDuration(env.PORTCACHE_QUEUE_WAIT) as number;
    config.minRate = parseSize(env.PORTCACHE_MIN_RATE) as number;
    config.mirrorConcurrency = Number(env.PORTCACHE_MIRROR_CONCURRENCY);
    config.repos = parseList(env.PORTCACHE_REPOS ?? '').map((path) => resolve(path));
    config.dataDir = resolve(env.PORTCACHE_DATA_DIR);
    config.syncRepos = parseList(env.PORTCACHE_SYNC_REPOS ?? '');
    config.syncIntervalMs = parseDuration(env.PORTCACHE_SYNC_INTERVAL) as number;
    config.repoCheckIntervalMs = parseDuration(env.PORTCACHE_REPO_CHECK_INTERVAL) as number;
    config.quarantineDays = Number(env.PORTCACHE_QUARANTINE_DAYS);
    config.maxSizeBytes = env.PORTCACHE_MAX_SIZE ? parseSize(env.PORTCACHE_MAX_SIZE) : undefined;
    config.lowWatermark = parsePercent(env.PORTCACHE_LOW_WATERMARK) as number;
    config.minFree = env.PORTCACHE_MIN_FREE ? parseSizeOrShare(env.PORTCACHE_MIN_FREE) : undefined;
    config.maxAgeMs = env.PORTCACHE_MAX_AGE ? parseDuration(env.PORTCACHE_MAX_AGE) : undefined;
    config.unreferencedGraceMs =
      env.PORTCACHE_UNREFERENCED_GRACE === 'off'
        ? undefined
        : parseDuration(env.PORTCACHE_UNREFERENCED_GRACE);
    config.unreferencedMaxShare = parsePercent(env.PORTCACHE_UNREFERENCED_MAX_SHARE) as number;
    config.shutdownGraceMs = parseDuration(env.PORTCACHE_SHUTDOWN_GRACE) as number;
    config.logFormat = env.PORTCACHE_LOG_FORMAT as 'json' | 'text' | undefined;
    const proxy = (own: string | undefined, name: string) => {
      const value = own ?? raw[name] ?? raw[name.toLowerCase()];
      return value === 'none' || value === '' ? undefined : value;
    };
    config.proxy = {
      http: proxy(env.PORTCACHE_HTTP_PROXY, 'HTTP_PROXY'),
      https: proxy(env.PORTCACHE_HTTPS_PROXY, 'HTTPS_PROXY'),
      noProxy: env.PORTCACHE_NO_PROXY ?? raw.NO_PROXY ?? raw.no_proxy,
    };
    const interval = env.PORTCACHE_JANITOR_INTERVAL;
    config.janitorSchedule = isCronExpression(interval)
      ? { cron: interval }
      : { everyMs: parseDuration(interval) as number };
    return config;
  }
}
