// Repository index scale (issue 4): build the index over a ::gentoo-sized synthetic tree in a
// fresh process with the files in the page cache, its memory on top of the idle process, and
// an incremental refresh after touching one package.
//   node scripts/bench/index-bench.mjs            prepare the tree, run 3 fresh builds, print JSON
//   node --expose-gc scripts/bench/index-bench.mjs --measure <tree> <gentoo>   one fresh build
// Needs `npm run build` (it imports dist/) and the unpacked fixtures (test/fixtures/repos).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startCommandOf } from './lib.mjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const RUNS = 3;
const COPIES = 33;

async function settledMemory() {
  await sleep(50);
  globalThis.gc();
  globalThis.gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/** One fresh process: build, measure, touch one package, refresh. */
async function measure(tree, gentoo) {
  const { DistfileIndex } = await import(join(ROOT, 'dist/repository/distfile-index.js'));
  const idle = await settledMemory();
  const index = new DistfileIndex({ discovery: { paths: [gentoo, tree] } });
  const build = await index.refresh();
  const built = await settledMemory();
  const entry = join(tree, 'metadata/md5-cache/net-misc-r5/openbgpd-8.5');
  const text = await readFile(entry, 'utf8');
  await writeFile(`${entry}.new`, text.replaceAll('c5-openbgpd-8.5.tar.gz', 'c5-openbgpd-8.5p1.tar.gz'));
  await rename(`${entry}.new`, entry);
  const touched = await index.refresh();
  const found = index.lookup('c5-openbgpd-8.5p1.tar.gz') !== undefined;
  await writeFile(`${entry}.new`, text);
  await rename(`${entry}.new`, entry);
  await index.close();
  const closed = await settledMemory();
  return {
    rssAfterCloseMiB: (closed.rss - idle.rss) / 2 ** 20,
    distfiles: build.snapshot.size,
    buildMs: Math.round(build.durationMs),
    rssMiB: (built.rss - idle.rss) / 2 ** 20,
    heapMiB: (built.heapUsed - idle.heapUsed) / 2 ** 20,
    refreshMs: Math.round(touched.durationMs),
    refreshFilesRead: touched.filesRead,
    refreshFound: found,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  if (process.argv[2] === '--measure') {
    process.stdout.write(JSON.stringify(await measure(process.argv[3], process.argv[4])));
    return;
  }
  if (!existsSync(join(ROOT, 'dist/repository/distfile-index.js')))
    throw new Error('run npm run build first');
  const fixtures = join(ROOT, 'test/fixtures/repos');
  if (!existsSync(fixtures)) {
    execFileSync('mkdir', ['-p', fixtures]);
    for (const tarball of ['gentoo-mini.tar.gz', 'guru-sample.tar.gz'])
      execFileSync('tar', ['-xzf', join(ROOT, 'test/fixtures', tarball), '-C', fixtures]);
  }
  const { replicateRepo } = await import(join(ROOT, 'dist/repository/testing/replicate.js'));
  const root = await mkdtemp(join(tmpdir(), 'portcache-index-bench-'));
  try {
    const tree = join(root, 'synthetic');
    const summary = await replicateRepo(join(fixtures, 'guru'), tree, COPIES);
    // Like every ::gentoo tree (rsync or gentoo-mirror git): a sync changes it, a local edit doesn't.
    await writeFile(join(tree, 'metadata/timestamp.chk'), 'Sat, 21 Nov 2026 17:30:01 +0000\n');
    spawnSync('sync');
    // The environment and node flags of `npm start` (the young generation's size, malloc).
    const { env: startEnv, flags: nodeFlags } = startCommandOf(ROOT);
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const child = spawnSync(
        process.execPath,
        [
          ...nodeFlags,
          '--expose-gc',
          fileURLToPath(import.meta.url),
          '--measure',
          tree,
          join(fixtures, 'gentoo'),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, ...startEnv } },
      );
      if (child.status !== 0) throw new Error(`index measurement failed: ${child.stderr}`);
      runs.push(JSON.parse(child.stdout));
    }
    const result = {
      entries: summary.entries,
      manifests: summary.manifests,
      distfiles: runs[0].distfiles,
      buildMs: median(runs.map((run) => run.buildMs)),
      rssMiB: Math.round(median(runs.map((run) => run.rssMiB)) * 10) / 10,
      heapMiB: Math.round(median(runs.map((run) => run.heapMiB)) * 10) / 10,
      refreshMs: median(runs.map((run) => run.refreshMs)),
      refreshFilesRead: runs[0].refreshFilesRead,
      refreshFound: runs.every((run) => run.refreshFound),
      runs,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error.stack ?? error);
  process.exit(1);
});
