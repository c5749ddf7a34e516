import { isIP } from 'node:net';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsOptional, Matches, ValidateBy, type ValidationOptions, validateSync } from 'class-validator';
import {
  isCronExpression,
  parseDuration,
  parseList,
  parsePercent,
  parseSize,
  parseSizeOrShare,
} from './units.js';

function IsDuration(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isDuration',
      validator: { validate: (v) => typeof v === 'string' && parseDuration(v) !== undefined },
    },
    { message: 'must be a duration with a unit, like 500ms, 30s, 15m, 12h or 30d', ...options },
  );
}

function IsSize(options?: ValidationOptions) {
  return ValidateBy(
    { name: 'isSize', validator: { validate: (v) => typeof v === 'string' && parseSize(v) !== undefined } },
    { message: 'must be a size like 4096, 500M, 2G or 1.5T (binary units)', ...options },
  );
}

function IsUrlList(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isUrlList',
      validator: {
        validate: (v) => typeof v === 'string' && parseList(v).length > 0 && parseList(v).every(isHttpUrl),
      },
    },
    { message: 'must be one or more whitespace-separated http:// or https:// URLs', ...options },
  );
}

function IsGitUrlList(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isGitUrlList',
      validator: { validate: (v) => typeof v === 'string' && parseList(v).every(isGitUrl) },
    },
    {
      message:
        'must be whitespace-separated git URLs (https://, http://, ssh://, git://, file://) or absolute paths',
      ...options,
    },
  );
}

function Check(name: string, test: (v: string) => boolean, message: string) {
  return ValidateBy({ name, validator: { validate: (v) => typeof v === 'string' && test(v) } }, { message });
}

function IsNetList(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isNetList',
      validator: { validate: (v) => typeof v === 'string' && parseList(v).every(isNet) },
    },
    {
      message: 'must be whitespace-separated IP addresses or networks, like 10.0.0.0/8 or fd00::/8',
      ...options,
    },
  );
}

function isNet(text: string): boolean {
  const [address, bits, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function isGitUrl(text: string): boolean {
  if (text.startsWith('/')) return true;
  return /^(https?|ssh|git|file):\/\/[^\s]+$/.test(text);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash;
  } catch {
    return false;
  }
}

/**
 * The raw environment, validated. Property names are the variable names so that every
 * error message names the variable an admin has to fix. Defaults live in DEFAULTS.
 */
export class PortcacheEnv {
  @Matches(/^[0-9A-Za-z.:-]+$/, {
    message: 'must be a host name or an IPv4/IPv6 address, like :: or 127.0.0.1',
  })
  PORTCACHE_HOST: string;

  @Matches(/^(6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}|0)$/, {
    message: 'must be a port number from 0 to 65535',
  })
  PORTCACHE_PORT: string;

  @Matches(/\S/, { message: 'must be a directory path' })
  PORTCACHE_CACHE_DIR: string;

  @IsUrlList()
  PORTCACHE_MIRRORS: string;

  @IsDuration()
  PORTCACHE_CONNECT_TIMEOUT: string;

  @IsDuration()
  PORTCACHE_STALL_TIMEOUT: string;

  @IsOptional()
  @IsDuration()
  PORTCACHE_CLIENT_TIMEOUT?: string;

  @IsOptional()
  @IsNetList()
  PORTCACHE_TRUSTED_NETS?: string;

  @IsOptional()
  @Matches(/^[\x21-\x7e]{16,}$/, { message: 'must be at least 16 printable characters without spaces' })
  PORTCACHE_ADMIN_TOKEN?: string;

  @Matches(/^[1-9]\d{0,3}$/, { message: 'must be a whole number from 1 to 9999' })
  PORTCACHE_MAX_FILLS: string;

  @Matches(/^[12]$/, { message: 'must be 1 or 2' })
  PORTCACHE_HASH_THREADS: string;

  @IsIn(['on', 'off'], { message: 'must be on or off' })
  PORTCACHE_SENDFILE: string;

  @IsDuration()
  PORTCACHE_QUEUE_WAIT: string;

  @IsSize({ message: 'must be a rate in bytes per second like 0 (off), 64K or 1M (binary units)' })
  PORTCACHE_MIN_RATE: string;

  @Matches(/^[1-9]\d{0,3}$/, { message: 'must be a whole number from 1 to 9999' })
  PORTCACHE_MIRROR_CONCURRENCY: string;

  @IsOptional()
  @Matches(/^\s*[^\s-]/, { message: 'must be whitespace-separated repository directories' })
  PORTCACHE_REPOS?: string;

  @Matches(/\S/, { message: 'must be a directory path' })
  PORTCACHE_DATA_DIR: string;

  @IsOptional()
  @IsGitUrlList()
  PORTCACHE_SYNC_REPOS?: string;

  @IsDuration()
  PORTCACHE_SYNC_INTERVAL: string;

  @IsDuration()
  PORTCACHE_REPO_CHECK_INTERVAL: string;

  @Matches(/^\d{1,4}$/, { message: 'must be a whole number of days from 0 to 9999' })
  PORTCACHE_QUARANTINE_DAYS: string;

  @IsOptional()
  @Check('isMaxSize', (v) => (parseSize(v) ?? 0) > 0, 'must be a size like 500G or 2T (binary units)')
  PORTCACHE_MAX_SIZE?: string;

  @Check(
    'isWatermark',
    (v) => (parsePercent(v) ?? 0) >= 0.1 && (parsePercent(v) ?? 1) < 1,
    'must be a percentage from 10% to 99.9%, like 90%',
  )
  PORTCACHE_LOW_WATERMARK: string;

  @IsOptional()
  @Check(
    'isSizeOrShare',
    (v) => {
      const parsed = parseSizeOrShare(v);
      return parsed !== undefined && ('bytes' in parsed || parsed.fraction < 1);
    },
    'must be a size like 20G or a share of the filesystem like 10%',
  )
  PORTCACHE_MIN_FREE?: string;

  @IsOptional()
  @IsDuration()
  PORTCACHE_MAX_AGE?: string;

  @Check(
    'isGrace',
    (v) => v === 'off' || parseDuration(v) !== undefined,
    'must be a duration like 30d, or off (the unreferenced policy never removes a file)',
  )
  PORTCACHE_UNREFERENCED_GRACE: string;

  @Check(
    'isShare',
    (v) => (parsePercent(v) ?? 0) > 0,
    'must be a percentage above 0, like 10% (of the cache bytes one run may remove as unreferenced)',
  )
  PORTCACHE_UNREFERENCED_MAX_SHARE: string;

  @Check(
    'isInterval',
    (v) => (parseDuration(v) ?? 0) >= 1000 || isCronExpression(v),
    'must be a duration of at least 1s, like 1h, or a cron expression like "0 */6 * * *"',
  )
  PORTCACHE_JANITOR_INTERVAL: string;

  @IsDuration()
  PORTCACHE_SHUTDOWN_GRACE: string;

  @IsOptional()
  @Check('isLogFormat', (v) => v === 'json' || v === 'text', 'must be json or text')
  PORTCACHE_LOG_FORMAT?: string;

  @IsOptional()
  @Check(
    'isProxyUrl',
    (v) => v === 'none' || isHttpUrl(v),
    'must be an http:// or https:// proxy URL, or none',
  )
  PORTCACHE_HTTP_PROXY?: string;

  @IsOptional()
  @Check(
    'isHttpsProxyUrl',
    (v) => v === 'none' || isHttpUrl(v),
    'must be an http:// or https:// proxy URL, or none',
  )
  PORTCACHE_HTTPS_PROXY?: string;

  @IsOptional()
  @Matches(/\S/, {
    message: 'must be host names, domains or addresses separated by commas or spaces, as in NO_PROXY',
  })
  PORTCACHE_NO_PROXY?: string;
}

export const DEFAULTS: Omit<
  PortcacheEnv,
  | 'PORTCACHE_ADMIN_TOKEN'
  | 'PORTCACHE_REPOS'
  | 'PORTCACHE_SYNC_REPOS'
  | 'PORTCACHE_CLIENT_TIMEOUT'
  | 'PORTCACHE_TRUSTED_NETS'
  | 'PORTCACHE_MAX_SIZE'
  | 'PORTCACHE_MIN_FREE'
  | 'PORTCACHE_MAX_AGE'
  | 'PORTCACHE_LOG_FORMAT'
  | 'PORTCACHE_HTTP_PROXY'
  | 'PORTCACHE_HTTPS_PROXY'
  | 'PORTCACHE_NO_PROXY'
> = {
  PORTCACHE_HOST: '::',
  PORTCACHE_PORT: '8080',
  PORTCACHE_CACHE_DIR: './var/cache/distfiles',
  PORTCACHE_HASH_THREADS: '1',
  PORTCACHE_SENDFILE: 'on',
  PORTCACHE_MIRRORS:
    'https://distfiles.gentoo.org https://gentoo.osuosl.org https://ftp.halifax.rwth-aachen.de/gentoo',
  PORTCACHE_CONNECT_TIMEOUT: '10s',
  PORTCACHE_STALL_TIMEOUT: '15s',
  PORTCACHE_MAX_FILLS: '16',
  PORTCACHE_QUEUE_WAIT: '10s',
  PORTCACHE_MIN_RATE: '32K',
  PORTCACHE_MIRROR_CONCURRENCY: '8',
  PORTCACHE_DATA_DIR: './var/lib/portcache',
  PORTCACHE_SYNC_INTERVAL: '1h',
  PORTCACHE_REPO_CHECK_INTERVAL: '1m',
  PORTCACHE_QUARANTINE_DAYS: '14',
  PORTCACHE_LOW_WATERMARK: '90%',
  PORTCACHE_UNREFERENCED_GRACE: '30d',
  PORTCACHE_UNREFERENCED_MAX_SHARE: '10%',
  PORTCACHE_JANITOR_INTERVAL: '1h',
  PORTCACHE_SHUTDOWN_GRACE: '30s',
};

export class ConfigError extends Error {}

/** Validates the PORTCACHE_* variables of `raw` (unset or empty ones take their default). */
export function validateEnv(raw: Record<string, string | undefined>): PortcacheEnv {
  const merged: Record<string, string> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('PORTCACHE_') && value !== undefined && value !== '') merged[key] = value;
  }
  const env = plainToInstance(PortcacheEnv, merged);
  const problems = validateSync(env, { forbidUnknownValues: true }).map((error) => {
    const why = Object.values(error.constraints ?? {}).join('; ');
    return `${error.property}=${JSON.stringify(error.value)}: ${why}`;
  });
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return env;
}
