import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from './portcache-env.js';

const OPTIONAL = [
  'PORTCACHE_ADMIN_TOKEN',
  'PORTCACHE_REPOS',
  'PORTCACHE_SYNC_REPOS',
  'PORTCACHE_CLIENT_TIMEOUT',
  'PORTCACHE_TRUSTED_NETS',
  'PORTCACHE_MAX_SIZE',
  'PORTCACHE_MIN_FREE',
  'PORTCACHE_MAX_AGE',
  'PORTCACHE_LOG_FORMAT',
  'PORTCACHE_HTTP_PROXY',
  'PORTCACHE_HTTPS_PROXY',
  'PORTCACHE_NO_PROXY',
];
const readme = readFileSync('README.md', 'utf8');
const example = readFileSync('.env.example', 'utf8');

describe('README and .env.example follow the config schema', () => {
  it('list every variable', () => {
    for (const name of [...Object.keys(DEFAULTS), ...OPTIONAL]) {
      expect(readme, name).toContain(`| \`${name}\``);
      expect(example, name).toMatch(new RegExp(`^#?${name}=`, 'm'));
    }
  });

  it('give the defaults the schema has', () => {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(example).toMatch(new RegExp(`^${name}=${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
      expect(readme).toMatch(
        new RegExp(`\\| \`${name}\` +\\| \`${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\``),
      );
    }
  });
});
