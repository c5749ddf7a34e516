import { spawnSync } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DistfileIndex } from './distfile-index.js';
import { copyFixtures, FIXTURE_REPOS } from './testing/fixture-repos.js';
import { replicateRepo } from './testing/replicate.js';

// PORTCACHE_REPO_BENCH=1 NODE_OPTIONS=--expose-gc npx vitest run src/repository/distfile-index.benchmark
const enabled = process.env.PORTCACHE_REPO_BENCH === '1';
const gc = (globalThis as { gc?: () => void }).gc;

async function heapUsed(): Promise<number> {
  await sleep(20); // let the stacks that held a build's temporaries unwind
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

describe.skipIf(!enabled)('DistfileIndex on a ::gentoo-sized tree (33 × the GURU sample)', () => {
  let root: string;
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('builds in ≤ 6 s and ≤ 150 MB of heap, and refreshes one touched package in ≤ 0.5 s (npm run bench item 7 is the judge)', async () => {
    ({ root } = await copyFixtures());
    const tree = join(root, 'synthetic');
    const summary = await replicateRepo(FIXTURE_REPOS.guru, tree, 33);
    expect(summary.entries).toBeGreaterThanOrEqual(31_000);
    expect(summary.manifests).toBeGreaterThanOrEqual(20_000);
    // Measure reading a settled tree, not one the kernel is still writing back.
    spawnSync('sync');

    const before = await heapUsed();
    const index = new DistfileIndex({ discovery: { paths: [FIXTURE_REPOS.gentoo, tree] } });
    const build = await index.refresh();
    const heapMiB = ((await heapUsed()) - before) / 2 ** 20;

    const entry = join(tree, 'metadata/md5-cache/net-misc-r5/openbgpd-8.5');
    const touch = async (from: string, to: string) => {
      const text = await readFile(entry, 'utf8');
      await writeFile(`${entry}.new`, text.replace(from, to));
      await rename(`${entry}.new`, entry);
    };
    const idle = await index.refresh();
    await touch('c5-openbgpd-8.5.tar.gz', 'c5-openbgpd-8.5p1.tar.gz');
    const touched = await index.refresh();
    expect(index.lookup('c5-openbgpd-8.5p1.tar.gz')?.sources[0].cpv).toBe('net-misc-r5/openbgpd-8.5');

    // With a timestamp.chk (rsync trees, gentoo-mirror): only changed category directories are read.
    await writeFile(join(tree, 'metadata/timestamp.chk'), 'Sat, 21 Aug 2026 17:30:01 +0000\n');
    await index.refresh();
    await touch('c5-openbgpd-8.5p1.tar.gz', 'c5-openbgpd-8.5p2.tar.gz');
    const cheap = await index.refresh();
    expect(index.lookup('c5-openbgpd-8.5p2.tar.gz')).toBeDefined();
    await index.close();

    const ms = (value: number) => `${Math.round(value)} ms`;
    console.log(
      [
        `md5-cache entries: ${summary.entries}, Manifests: ${summary.manifests}, distfiles: ${build.snapshot.size}`,
        `full build: ${ms(build.durationMs)}, heap: ${gc ? `${heapMiB.toFixed(1)} MiB` : 'unknown (run with --expose-gc)'}`,
        `refresh, nothing changed (stat every file, no timestamp.chk): ${ms(idle.durationMs)}`,
        `refresh after touching one package (no timestamp.chk): ${ms(touched.durationMs)}, ${touched.filesRead} file read`,
        `refresh after touching one package (timestamp.chk unchanged): ${ms(cheap.durationMs)}, ${cheap.filesRead} file read`,
      ].join('\n'),
    );
    expect(build.durationMs).toBeLessThanOrEqual(6_000);
    if (gc) expect(heapMiB).toBeLessThanOrEqual(150);
    expect(touched.durationMs).toBeLessThanOrEqual(500);
    expect(cheap.durationMs).toBeLessThanOrEqual(500);
  }, 120_000);
});
