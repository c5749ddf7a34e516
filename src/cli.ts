#!/usr/bin/env node
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { request } from 'undici';

const USAGE = `usage: portcache <command> [args]

Talks to a running portcache through its admin API.
  status            readiness of the server
  mirrors           each upstream mirror's health and scores
  resolve <name>    what the repositories say about a distfile, whether it is cached, and
                    where portcache would fetch it from, in order, with the reason for each
  import <file> [name]
                    add a file you downloaded yourself (fetch-restricted distfiles); it is
                    checked against the Manifest (needs PORTCACHE_ADMIN_TOKEN)
  delete <name>     remove a cached distfile (needs PORTCACHE_ADMIN_TOKEN)
  gc [--dry-run]    run the janitor now and show what it removed and why (needs
                    PORTCACHE_ADMIN_TOKEN); --dry-run shows what it would remove

Environment: PORTCACHE_URL (default http://127.0.0.1:8080), PORTCACHE_ADMIN_TOKEN.`;

interface Answer {
  status: number;
  json?: unknown;
  text: string;
}

async function send(
  method: 'GET' | 'DELETE' | 'PUT' | 'POST',
  path: string,
  body?: Readable,
): Promise<Answer> {
  const base = (process.env.PORTCACHE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (process.env.PORTCACHE_ADMIN_TOKEN)
    headers.authorization = `Bearer ${process.env.PORTCACHE_ADMIN_TOKEN}`;
  if (body) headers['content-type'] = 'application/octet-stream';
  const response = await request(`${base}${path}`, { method, headers, body });
  const text = await response.body.text();
  try {
    return { status: response.statusCode, json: JSON.parse(text), text };
  } catch {
    return { status: response.statusCode, text };
  }
}

/** Prints the answer (the error message alone on failure); the exit code. */
function show({ status, json, text }: Answer, format: (json: never) => string = pretty): number {
  if (status >= 400) {
    console.error(((json as { message?: string })?.message ?? text).trimEnd());
    return 1;
  }
  console.log(json === undefined ? text.trimEnd() : format(json as never));
  return 0;
}

const pretty = (json: unknown) => JSON.stringify(json, null, 2);

interface Explained {
  name: string;
  index: {
    ready: boolean;
    known: boolean;
    size?: number | null;
    BLAKE2B?: string | null;
    verifiable?: boolean;
    conflict?: string | null;
    manifests?: Array<{ repos: string[]; size: number; BLAKE2B: string | null }>;
    packages?: Array<{ repo: string; cpv: string; restrict: string[]; uris: string[] }>;
  };
  cache: {
    cached: boolean;
    filling: boolean;
    size?: number;
    matchesIndex?: boolean | string | null;
    matchedManifest?: { repos: string[] } | null;
  };
  refusal: string | null;
  sources: Array<{ kind: string; url?: string; mirrors?: string[]; reason: string }>;
}

function formatExplained(e: Explained): string {
  const lines = [e.name];
  if (!e.index.ready) lines.push('  index: still being built');
  else if (!e.index.known) lines.push('  index: unknown to every repository');
  else {
    lines.push(
      `  size: ${e.index.size ?? 'unknown'}${e.index.verifiable ? ' (verifiable)' : ' (not verifiable)'}`,
    );
    if (e.index.BLAKE2B) lines.push(`  BLAKE2B: ${e.index.BLAKE2B}`);
    if (e.index.conflict) {
      lines.push(`  conflict: ${e.index.conflict} (bytes matching any of these are accepted)`);
      for (const m of e.index.manifests ?? []) {
        lines.push(`    ${m.repos.join(', ')}: ${m.size} bytes, BLAKE2B ${m.BLAKE2B ?? 'none'}`);
      }
    }
    for (const pkg of e.index.packages ?? []) {
      const restrict = pkg.restrict.length > 0 ? ` RESTRICT=${pkg.restrict.join(',')}` : '';
      lines.push(`  package: ${pkg.cpv}::${pkg.repo}${restrict}`);
      for (const uri of pkg.uris) lines.push(`    ${uri}`);
    }
  }
  const match = e.cache.matchesIndex;
  const verdict =
    match === true
      ? `, matches the Manifest${e.cache.matchedManifest ? ` of ${e.cache.matchedManifest.repos.join(', ')}` : ''}`
      : typeof match === 'string'
        ? `, MISMATCH: ${match}`
        : '';
  lines.push(
    e.cache.cached
      ? `  cached: ${e.cache.size} bytes${verdict}`
      : `  cached: no${e.cache.filling ? ' (filling now)' : ''}`,
  );
  if (e.refusal) lines.push(`  not fetched: ${e.refusal}`);
  e.sources.forEach((step, i) => {
    const where = step.kind === 'mirrors' ? `mirrors ${(step.mirrors ?? []).join(' ')}` : step.url;
    lines.push(`  ${i + 1}. ${where}`, `     ${step.reason}`);
  });
  return lines.join('\n');
}

interface JanitorReport {
  dryRun: boolean;
  at: string;
  durationMs: number;
  index: { usable: boolean; why?: string };
  cache: { files: number; bytes: number; bytesAfter: number };
  byReason: Record<string, { files: number; bytes: number }>;
  evictions: Array<{ name: string; size: number; reason: string; lastAccess: string }>;
  evictionsNotListed: number;
  notes: string[];
  removed?: { files: number; bytes: number; busy: number };
  leftovers?: { files: number; bytes: number };
  quarantine?: number;
}

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatJanitor(r: JanitorReport): string {
  const planned = Object.values(r.byReason).reduce((n, x) => n + x.files, 0);
  const lines = [
    `${r.dryRun ? 'Dry run, nothing removed' : 'Janitor run'} at ${r.at} (${r.durationMs} ms)`,
    `  cache: ${r.cache.files} files, ${size(r.cache.bytes)}; after: ${size(r.cache.bytesAfter)}`,
    `  index: ${r.index.usable ? 'usable' : `not usable (${r.index.why}): no file goes for being unreferenced`}`,
  ];
  if (r.removed) {
    const busy = r.removed.busy ? `; ${r.removed.busy} skipped while being written` : '';
    lines.push(`  removed: ${r.removed.files} files, ${size(r.removed.bytes)}${busy}`);
  }
  lines.push(
    planned === 0 ? '  nothing to remove' : `  ${r.dryRun ? 'would remove' : 'planned'}, by reason:`,
  );
  for (const [reason, { files, bytes }] of Object.entries(r.byReason)) {
    if (files > 0)
      lines.push(`    ${reason.padEnd(13)} ${String(files).padStart(7)} files ${size(bytes).padStart(11)}`);
  }
  for (const e of r.evictions) {
    lines.push(
      `    ${e.reason.padEnd(13)} ${e.name} (${size(e.size)}, last requested ${e.lastAccess.slice(0, 16)})`,
    );
  }
  if (r.evictionsNotListed > 0) lines.push(`    ... and ${r.evictionsNotListed} more`);
  if (r.leftovers?.files) lines.push(`  leftover temporary files removed: ${r.leftovers.files}`);
  if (r.quarantine) lines.push(`  expired quarantined files deleted: ${r.quarantine}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'status':
      return show(await send('GET', '/health/ready'));
    case 'mirrors':
      return show(await send('GET', '/api/v1/mirrors'));
    case 'resolve':
      if (rest.length !== 1) break;
      return show(await send('GET', `/api/v1/distfiles/${encodeURIComponent(rest[0])}`), formatExplained);
    case 'import': {
      if (rest.length < 1 || rest.length > 2) break;
      const name = rest[1] ?? basename(rest[0]);
      return show(
        await send('PUT', `/api/v1/distfiles/${encodeURIComponent(name)}`, createReadStream(rest[0])),
      );
    }
    case 'delete':
      if (rest.length !== 1) break;
      return show(await send('DELETE', `/api/v1/distfiles/${encodeURIComponent(rest[0])}`));
    case 'gc':
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== '--dry-run')) break;
      return show(
        rest[0] === '--dry-run'
          ? await send('GET', '/api/v1/janitor/plan')
          : await send('POST', '/api/v1/janitor/run'),
        formatJanitor,
      );
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
