#!/usr/bin/env node
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { StatsReport } from './admin/stats.service.js';
import { type Answer, baseUrl, messageOf, send } from './cli/api.js';
import { formatExplained } from './cli/explain-format.js';
import { importDirectory } from './cli/import-dir.js';
import { formatJanitor } from './cli/janitor-format.js';
import { formatStatus, type Readiness } from './cli/status-format.js';
import type { FillProgress } from './fills/fill.service.js';

const USAGE = `usage: portcache <command> [args]

Talks to a running portcache through its admin API.
  status [--json]   readiness, requests and hit ratio (since start and over the last 24 h),
                    bytes served by source and saved upstream, cache usage against its
                    limits, the most requested files, and each download in progress with
                    its progress, rate and clients; --json: the same as one JSON object
                    ({ready, stats, fills}: /health/ready, /api/v1/stats, /api/v1/fills)
  mirrors           each upstream mirror's health and scores
  resolve <name>    what the repositories say about a distfile, whether it is cached, and
                    where portcache would fetch it from, in order, with the reason for each
  import <file> [name] [--unverified]
                    add a file you downloaded yourself (fetch-restricted distfiles); it is
                    checked against the Manifest; a file no Manifest knows is refused
                    unless --unverified (needs PORTCACHE_ADMIN_TOKEN)
  import <dir> [--unverified] [--json]
                    bring a directory of distfiles in (an existing /var/cache/distfiles):
                    each file is checked against the Manifest (a mismatch is not imported
                    and a copy is kept in quarantine), files no Manifest knows are skipped
                    unless --unverified, files cached with the same bytes are left alone,
                    subdirectories, dotfiles and Portage's *.__download__ files are skipped.
                    The server reads the directory itself when it sees the same one;
                    otherwise each file is uploaded. A progress bar on stderr, a summary
                    (imported, already cached, mismatched, skipped, failed) on stdout,
                    --json: the summary as JSON. Exit status 1 if a file mismatched or
                    failed (needs PORTCACHE_ADMIN_TOKEN)
  delete <name>     remove a cached distfile (needs PORTCACHE_ADMIN_TOKEN)
  gc [--dry-run]    run the janitor now and show what it removed and why (needs
                    PORTCACHE_ADMIN_TOKEN); --dry-run shows what it would remove

Environment: PORTCACHE_URL (default http://127.0.0.1:8080), PORTCACHE_ADMIN_TOKEN.`;

/** Prints the answer (the error message alone on failure); the exit code. */
function show(answer: Answer, format: (json: never) => string = pretty): number {
  if (answer.status >= 400) {
    console.error(messageOf(answer));
    return 1;
  }
  console.log(answer.json === undefined ? answer.text.trimEnd() : format(answer.json as never));
  return 0;
}

const pretty = (json: unknown) => JSON.stringify(json, null, 2);

/** Readiness, statistics and fills; exit 1 when the server is not ready. */
async function status(json: boolean): Promise<number> {
  const [ready, stats, fills] = await Promise.all([
    send('GET', '/health/ready'),
    send('GET', '/api/v1/stats'),
    send('GET', '/api/v1/fills'),
  ]);
  const readiness = ready.json as Readiness | undefined;
  const body = (answer: Answer) => (answer.status === 200 ? answer.json : messageOf(answer));
  if (json) console.log(pretty({ ready: readiness ?? ready.text, stats: body(stats), fills: body(fills) }));
  else {
    console.log(
      formatStatus({
        url: baseUrl(),
        readiness,
        stats: body(stats) as StatsReport | string,
        fills: body(fills) as FillProgress[] | string,
      }),
    );
  }
  return readiness?.status === 'ok' ? 0 : 1;
}

async function importCommand(args: string[], flags: Set<string>): Promise<number | undefined> {
  if (args.length < 1 || args.length > 2) return undefined;
  const unverified = flags.has('--unverified');
  const target = await stat(args[0]);
  if (target.isDirectory()) {
    if (args.length !== 1) return undefined;
    return importDirectory(args[0], { unverified, json: flags.has('--json') });
  }
  const name = args[1] ?? basename(args[0]);
  const query = unverified ? '?unverified=1' : '';
  return show(
    await send(
      'PUT',
      `/api/v1/distfiles/${encodeURIComponent(name)}${query}`,
      createReadStream(args[0]),
      target.size,
    ),
  );
}

const FLAGS: Record<string, readonly string[]> = {
  status: ['--json'],
  import: ['--unverified', '--json'],
  gc: ['--dry-run'],
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const allowed = FLAGS[command] ?? [];
  const flags = new Set(rest.filter((arg) => allowed.includes(arg)));
  const args = rest.filter((arg) => !allowed.includes(arg));
  const unknownFlag = args.some((arg) => arg.startsWith('--'));
  switch (unknownFlag ? 'usage' : command) {
    case 'status':
      if (args.length > 0) break;
      return status(flags.has('--json'));
    case 'mirrors':
      return show(await send('GET', '/api/v1/mirrors'));
    case 'resolve':
      if (args.length !== 1) break;
      return show(await send('GET', `/api/v1/distfiles/${encodeURIComponent(args[0])}`), formatExplained);
    case 'import': {
      const code = await importCommand(args, flags);
      if (code === undefined) break;
      return code;
    }
    case 'delete':
      if (args.length !== 1) break;
      return show(await send('DELETE', `/api/v1/distfiles/${encodeURIComponent(args[0])}`));
    case 'gc':
      if (args.length > 0) break;
      return show(
        flags.has('--dry-run')
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
