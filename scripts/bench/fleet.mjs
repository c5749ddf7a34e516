// Item 9 of scripts/bench.mjs: a fleet replay. Many clients fetch the same set of distfiles, each
// in its own order and one after another, some downloads interrupted and resumed; two thirds of
// the files are uncached at the start and come from the rate-limited upstream. The same plan runs
// against portcache and against the nginx proxy_cache, each side with its own file names (same
// sizes, same contents' sizes, same order) so that neither warms the other.

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  blake2bPrefix,
  log,
  MiB,
  mainThreadCpuSecondsOf,
  median,
  portcacheCounter,
  rawGet,
  round,
  runWorker,
  sleep,
  systemBusySeconds,
  treeCpuSecondsOf,
  waitUntil,
  writeTestFile,
} from './lib.mjs';
import { parseProxyCacheLog, proxyCacheFile } from './proxy-cache-nginx.mjs';

/** A small seeded PRNG (mulberry32): the same seed gives the same plan on every run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(n, rand) {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * The replay: file sizes log-uniform in [minBytes, maxBytes]; a third of the files cached at the
 * start; per client a random order and, for exactly `resumeShare` of its downloads, the byte
 * (uniform in the body) after which the connection is dropped.
 */
export function fleetPlan({
  clients,
  files,
  minBytes,
  maxBytes,
  seed,
  cachedShare = 1 / 3,
  resumeShare = 0.1,
}) {
  const rand = random(seed);
  const [lo, hi] = [Math.log(minBytes), Math.log(maxBytes)];
  const sizes = Array.from({ length: files }, () => Math.round(Math.exp(lo + rand() * (hi - lo))));
  const cachedSet = new Set(shuffled(files, rand).slice(0, Math.round(files * cachedShare)));
  const plans = Array.from({ length: clients }, (_, id) => {
    const order = shuffled(files, rand);
    const resumed = new Set(shuffled(files, rand).slice(0, Math.round(files * resumeShare)));
    return {
      id,
      downloads: order.map((index, position) => ({
        index,
        abortAt: resumed.has(position) ? 1 + Math.floor(rand() * (sizes[index] - 1)) : undefined,
      })),
    };
  });
  return { seed, sizes, cached: sizes.map((_, i) => cachedSet.has(i)), clients: plans };
}

/**
 * Writes both sides' files of each round to the upstream: round 1's are written, later rounds'
 * names are hard links to them (a cache sees names it never saw; the disk takes one write).
 * portcache's cached third of every round also goes into its cache directory as items 1-2 place
 * theirs (returned as `preplaced`, to wait for their adoption); the proxy cache's cached third is
 * fetched through it once before its side (itemFleet).
 */
export function writeFleetFiles(plan, { upstreamDistfiles, cacheDir, rounds = 1 }) {
  const fileName = (tag, i) => `fleet-${tag}-${String(i).padStart(3, '0')}.tar.xz`;
  const written = (tag) =>
    plan.sizes.map((size, i) => {
      const name = fileName(tag, i);
      return { index: i, name, size, sha256: writeTestFile(join(upstreamDistfiles, name), size) };
    });
  const linked = (files, tag) =>
    files.map((f) => {
      const name = fileName(tag, f.index);
      linkSync(join(upstreamDistfiles, f.name), join(upstreamDistfiles, name));
      return { ...f, name };
    });
  const first = { portcache: written('pc1'), nginx: written('ng1') };
  const all = [first];
  for (let r = 2; r <= rounds; r++) {
    all.push({ portcache: linked(first.portcache, `pc${r}`), nginx: linked(first.nginx, `ng${r}`) });
  }
  const preplaced = all.flatMap((round) =>
    round.portcache
      .filter((f) => plan.cached[f.index])
      .map((f) => {
        const prefix = blake2bPrefix(f.name);
        mkdirSync(join(cacheDir, prefix), { recursive: true });
        copyFileSync(join(upstreamDistfiles, f.name), join(cacheDir, prefix, f.name));
        return { ...f, prefix };
      }),
  );
  return { rounds: all, preplaced };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * xs.length) - 1)];

/**
 * Mean time per download by what the download met: the first request of an uncached file (it
 * started the fill, or waited for one), a later request of a file that was uncached, a file
 * cached at the start; each split by size (< 1 MiB, 1–8 MiB, ≥ 8 MiB).
 */
export function fleetBreakdown(plan, sideFiles, results) {
  const first = new Map();
  for (const r of results) {
    if (plan.cached[r.index]) continue;
    const seen = first.get(r.index);
    if (!seen || r.start < seen.start) first.set(r.index, r);
  }
  const groups = {};
  for (const r of results.filter((x) => x.ok)) {
    const kind = plan.cached[r.index]
      ? 'cachedAtStart'
      : first.get(r.index) === r
        ? 'firstRequest'
        : 'filledEarlier';
    const size = sideFiles[r.index].size;
    const band = size < MiB ? 'under1MiB' : size < 8 * MiB ? '1to8MiB' : 'from8MiB';
    for (const key of [kind, `${kind}.${band}`]) {
      groups[key] ??= [];
      groups[key].push((r.end - r.start) / 1000);
    }
  }
  return Object.fromEntries(
    Object.entries(groups)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, seconds]) => [key, { downloads: seconds.length, meanSeconds: round(mean(seconds), 3) }]),
  );
}

/**
 * The first min(size, 1 MiB) bytes of each file, which the clients compare bodies with
 * (matchesTestFile), in one buffer the worker threads share; `firstOffset` per file.
 */
function firstBlocks(files, upstreamDistfiles) {
  const lengths = files.map((f) => Math.min(f.size, MiB));
  const shared = new SharedArrayBuffer(lengths.reduce((a, b) => a + b, 0));
  const offsets = [];
  let offset = 0;
  for (const [i, f] of files.entries()) {
    const fd = openSync(join(upstreamDistfiles, f.name), 'r');
    try {
      readSync(fd, new Uint8Array(shared, offset, lengths[i]), 0, lengths[i], 0);
    } finally {
      closeSync(fd);
    }
    offsets.push(offset);
    offset += lengths[i];
  }
  return { shared, offsets };
}

/** Runs the plan against one server; returns per-download results (epoch ms) and the agreed start. */
async function replay(plan, files, base, { threads, timeoutMs, upstreamDistfiles }) {
  const blocks = firstBlocks(files, upstreamDistfiles);
  const clients = plan.clients.map(({ id, downloads }) => ({
    id,
    files: downloads.map(({ index, abortAt }) => ({
      name: files[index].name,
      size: files[index].size,
      index,
      firstOffset: blocks.offsets[index],
      abortAt,
    })),
  }));
  const shares = Array.from({ length: Math.min(threads, clients.length) }, () => []);
  for (const [i, client] of clients.entries()) shares[i % shares.length].push(client);
  const startAtEpochMs = performance.timeOrigin + performance.now() + 300;
  const results = await Promise.all(
    shares.map((share) =>
      runWorker(new URL('./fleet-worker.mjs', import.meta.url), {
        base,
        clients: share,
        firstBlocks: blocks.shared,
        startAtEpochMs,
        timeoutMs,
      }),
    ),
  );
  return { startAtEpochMs, results: results.flat() };
}

/**
 * Runs the item: `files.rounds.length` paired rounds, each a side of portcache and one of the
 * proxy cache with that round's files, in ABBA order (on this host the side that runs first
 * often does better: performance-notes). The item's ratio is the median of the rounds' ratios,
 * and its row shows the round nearest to it. `rss` is { setPhase, peak } of the bench's RSS
 * sampler, so that portcache's peak during its sides is known.
 */
export async function itemFleet({
  plan,
  files,
  pcBase,
  ncBase,
  pcPort,
  nc,
  upAccessLog,
  upstreamDistfiles,
  threads,
  rss,
  pids,
}) {
  const timeoutMs = 300_000;
  const uncached = (sideFiles) => sideFiles.filter((f) => !plan.cached[f.index]);
  const uniqueBytes = uncached(files.rounds[0].portcache).reduce((sum, f) => sum + f.size, 0);

  const runSide = async (side, base, sideFiles, roundNo) => {
    spawnSync('sync', [], { timeout: 120_000 });
    rss.setPhase(`fleet: ${side}, round ${roundNo}`);
    // What the side's server and the upstream used: the clients' share is the same on both sides.
    const cpuBefore = {
      server: treeCpuSecondsOf([pids[side]]),
      upstream: treeCpuSecondsOf([pids.upstream]),
      machine: systemBusySeconds(),
      mainThread: side === 'portcache' ? mainThreadCpuSecondsOf(pids.portcache) : undefined,
    };
    const { startAtEpochMs, results } = await replay(plan, sideFiles, base, {
      threads,
      timeoutMs,
      upstreamDistfiles,
    });
    rss.setPhase('fleet');
    const cpuSeconds = {
      server: round(treeCpuSecondsOf([pids[side]]) - cpuBefore.server, 2),
      upstream: round(treeCpuSecondsOf([pids.upstream]) - cpuBefore.upstream, 2),
      // Everything: clients, servers, the loopback's softirqs, the kernel's write-back.
      machine: round(systemBusySeconds() - cpuBefore.machine, 2),
    };
    if (cpuBefore.mainThread !== undefined) {
      // Its other threads: hashing, the thread pool's file work, V8's helpers.
      cpuSeconds.serverMainThread = round(mainThreadCpuSecondsOf(pids.portcache) - cpuBefore.mainThread, 2);
    }
    const seconds = results.filter((r) => r.ok).map((r) => (r.end - r.start) / 1000);
    const wrong = results.filter((r) => !r.right);
    const resumed = results.filter((r) => r.resumed && r.ok);

    // nginx logs a request when it is done: wait (bounded) until every uncached file has an entry.
    const names = new Set(sideFiles.map((f) => `/distfiles/${f.name}`));
    const timed = () => upAccessLog().filter((e) => names.has(e.uri) && e.msec * 1000 >= startAtEpochMs);
    await waitUntil(
      `the upstream access log entries of ${side}'s files`,
      () => {
        const seen = new Set(timed().map((e) => e.uri));
        return uncached(sideFiles).every((f) => seen.has(`/distfiles/${f.name}`));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((error) => log(error.message));
    await sleep(500);
    const upstream = timed();
    const upstreamBytes = upstream.reduce((sum, e) => sum + e.bodyBytes, 0);
    const stats = {
      wallSeconds: (Math.max(...results.map((r) => r.end)) - startAtEpochMs) / 1000,
      downloads: results.length,
      meanSeconds: mean(seconds),
      p95Seconds: percentile(seconds, 0.95),
      maxSeconds: Math.max(...seconds),
      rightBodies: results.length - wrong.length,
      wrongBodies: wrong.slice(0, 10).map((r) => r.error),
      resumes: resumed.length,
      resumesAnswered200: resumed.filter((r) => r.restarted).length,
      upstreamRequests: upstream.length,
      upstreamBytes,
      upstreamRatio: upstreamBytes / uniqueBytes,
      cpuSeconds,
      byKind: fleetBreakdown(plan, sideFiles, results),
    };
    log(
      `${side}, round ${roundNo}: wall ${round(stats.wallSeconds, 2)} s, mean ${round(stats.meanSeconds, 3)} s, ` +
        `p95 ${round(stats.p95Seconds, 3)} s per download, ${stats.rightBodies}/${stats.downloads} bodies right, ` +
        `first requests of uncached files ${stats.byKind.firstRequest?.meanSeconds} s, ` +
        `upstream ${round(stats.upstreamRatio, 3)}× the unique bytes in ${upstream.length} requests; ` +
        `CPU ${cpuSeconds.server} s (${side}` +
        (cpuSeconds.serverMainThread === undefined ? '' : `; main thread ${cpuSeconds.serverMainThread} s`) +
        `), ${cpuSeconds.upstream} s (upstream), ${cpuSeconds.machine} s (machine)`,
    );
    return stats;
  };

  // portcache: its cached third was placed before it started.
  const portcacheSide = async (sideFiles, roundNo) => {
    const committedBefore = await portcacheCounter(pcPort, 'portcache_fills_total', 'result="committed"');
    const stats = await runSide('portcache', pcBase, sideFiles, roundNo);
    // Its fills' disk work must not land in nginx's side.
    await waitUntil(
      'portcache to commit the fleet files',
      async () =>
        (await portcacheCounter(pcPort, 'portcache_fills_total', 'result="committed"')) >=
        committedBefore + uncached(sideFiles).length,
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((error) => log(error.message));
    return stats;
  };

  // nginx: one request for each file of its cached third, then wait until each is in its cache.
  const nginxSide = async (sideFiles, roundNo) => {
    const warm = sideFiles.filter((f) => plan.cached[f.index]);
    for (let i = 0; i < warm.length; i += 10) {
      await Promise.all(
        warm.slice(i, i + 10).map(async (f) => {
          const r = await rawGet(`${ncBase}/${f.name}`, { hash: true, timeoutMs });
          if (r.status !== 200 || r.sha256 !== f.sha256)
            throw new Error(`warming ${f.name}: HTTP ${r.status}, wrong body`);
        }),
      );
    }
    await waitUntil(
      'nginx to cache the warmed files',
      () => warm.every((f) => statSync(proxyCacheFile(nc, f.name), { throwIfNoEntry: false })?.size > f.size),
      { timeoutMs: 30_000 },
    );
    const logStart = Date.now();
    const stats = await runSide('nginx', ncBase, sideFiles, roundNo);
    const names = new Set(sideFiles.map((f) => `/distfiles/${f.name}`));
    const cacheStatus = {};
    for (const e of parseProxyCacheLog(readFileSync(join(nc.dir, 'access.log'), 'utf8'))) {
      if (e.msec * 1000 >= logStart && names.has(e.uri)) {
        cacheStatus[e.cacheStatus] = (cacheStatus[e.cacheStatus] ?? 0) + 1;
      }
    }
    stats.cacheStatus = cacheStatus;
    return stats;
  };

  const rounds = [];
  for (const [i, roundFiles] of files.rounds.entries()) {
    const roundNo = i + 1;
    // ABBA: portcache first in rounds 1 and 4, nginx first in 2 and 3 (and so on).
    const portcacheFirst = i % 4 === 0 || i % 4 === 3;
    const pair = { order: portcacheFirst ? ['portcache', 'nginx'] : ['nginx', 'portcache'] };
    log(`fleet round ${roundNo} of ${files.rounds.length}: ${pair.order.join(', then ')}`);
    for (const side of pair.order) {
      pair[side] =
        side === 'portcache'
          ? await portcacheSide(roundFiles.portcache, roundNo)
          : await nginxSide(roundFiles.nginx, roundNo);
    }
    pair.portcache.peakSampledRssMB = round(rss.peak(`fleet: portcache, round ${roundNo}`) / 1e6, 1);
    pair.meanRatio = pair.portcache.meanSeconds / pair.nginx.meanSeconds;
    log(`fleet round ${roundNo}: mean time per download, portcache / nginx ${round(pair.meanRatio, 3)}`);
    rounds.push(pair);
  }
  const meanRatio = median(rounds.map((r) => r.meanRatio));
  // The round whose ratio is the median (with an even count, the nearer of the middle two).
  const shown = rounds.reduce((best, r) =>
    Math.abs(r.meanRatio - meanRatio) < Math.abs(best.meanRatio - meanRatio) ? r : best,
  );
  const sides = (side) => rounds.map((r) => r[side]);
  const total = (side, key) => sides(side).reduce((sum, s) => sum + s[key], 0);

  return {
    seed: plan.seed,
    clients: plan.clients.length,
    files: plan.sizes.length,
    fileBytes: {
      min: Math.min(...plan.sizes),
      max: Math.max(...plan.sizes),
      total: plan.sizes.reduce((a, b) => a + b, 0),
    },
    uncachedFiles: uncached(files.rounds[0].portcache).length,
    uniqueBytes,
    resumesPlanned: plan.clients.reduce(
      (n, c) => n + c.downloads.filter((d) => d.abortAt !== undefined).length,
      0,
    ),
    rounds,
    meanRatios: rounds.map((r) => round(r.meanRatio, 3)),
    meanRatio,
    shownRound: rounds.indexOf(shown) + 1,
    // The median round's sides, for the table's row.
    portcache: shown.portcache,
    nginx: shown.nginx,
    // Over every round: the worst upstream ratio, all bodies, the highest RSS.
    upstream: {
      portcacheWorstRatio: Math.max(...sides('portcache').map((s) => s.upstreamRatio)),
      portcacheBytes: total('portcache', 'upstreamBytes'),
      portcacheRequests: total('portcache', 'upstreamRequests'),
      nginxRatios: sides('nginx').map((s) => round(s.upstreamRatio, 3)),
      uniqueBytes: uniqueBytes * rounds.length,
    },
    bodies: {
      portcacheRight: total('portcache', 'rightBodies'),
      portcacheDownloads: total('portcache', 'downloads'),
      nginxRight: total('nginx', 'rightBodies'),
      nginxDownloads: total('nginx', 'downloads'),
    },
    peakSampledRssMB: Math.max(...sides('portcache').map((s) => s.peakSampledRssMB)),
  };
}
