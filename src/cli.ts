#!/usr/bin/env node
import { request } from 'undici';

const USAGE = `usage: portcache <command> [args]

Talks to a running portcache through its admin API.
  status            readiness of the server
  mirrors           each upstream mirror's health and scores
  delete <name>     remove a cached distfile (needs PORTCACHE_ADMIN_TOKEN)

Environment: PORTCACHE_URL (default http://127.0.0.1:8080), PORTCACHE_ADMIN_TOKEN.`;

async function call(method: 'GET' | 'DELETE', path: string): Promise<number> {
  const base = (process.env.PORTCACHE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (process.env.PORTCACHE_ADMIN_TOKEN)
    headers.authorization = `Bearer ${process.env.PORTCACHE_ADMIN_TOKEN}`;
  const response = await request(`${base}${path}`, { method, headers });
  const text = await response.body.text();
  let shown = text;
  try {
    const json = JSON.parse(text) as { message?: string };
    shown = response.statusCode >= 400 && json.message ? json.message : JSON.stringify(json, null, 2);
  } catch {}
  (response.statusCode >= 400 ? console.error : console.log)(shown.trimEnd());
  return response.statusCode >= 400 ? 1 : 0;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'status':
      return call('GET', '/health/ready');
    case 'mirrors':
      return call('GET', '/api/v1/mirrors');
    case 'delete':
      if (rest.length !== 1) break;
      return call('DELETE', `/api/v1/distfiles/${encodeURIComponent(rest[0])}`);
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`portcache: ${error.message}`);
    process.exit(1);
  },
);
