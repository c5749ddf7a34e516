// Item 8 of scripts/bench.mjs: a miss from a fast upstream. One big file, never requested
// before, from the unthrottled location of the upstream nginx: directly, through the nginx
// proxy_cache and through portcache, alternating, medians of MB/s.
//
// The client must not be what limits ~1 GB/s: rawGet copies the body into one pre-faulted buffer
// (a memcpy, ~0.1 s per GiB) and the SHA-256 of that buffer is checked after the clock stopped
// (SHA-256 in the receiving thread runs at ~1.5 GB/s here and halved the direct download's speed).
// Nothing forks between the runs: after a fork (even `spawnSync('sync')`) every page of that
// buffer faults again on its next write, which on this VM cut the client to ~130 MB/s.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuSecondsOf,
  log,
  median,
  rawGet,
  round,
  sleep,
  untilCommitted,
  waitUntil,
  writeTestFile,
} from './lib.mjs';
import { parseProxyCacheLog, proxyCacheFile } from './proxy-cache-nginx.mjs';

const MB = 1e6;
const SIDES = ['direct', 'nginx', 'portcache'];

/** Names start with the upstream's unthrottled prefix (upstreamNginxConf). */
const name = (tag) => `fastfill-${tag}.tar.xz`;

/**
 * Writes the item's files into the upstream's distfiles directory: one file the direct runs
 * share (a direct download changes nothing on the upstream), a fresh name per run for each cache,
 * and a small warm-up file per cache. The big names are hard links to one file: a cache sees a
 * name it never saw, so every run is a miss, and the disk takes one write instead of 2 × runs + 1.
 */
export function writeFastFillFiles(upstreamDistfiles, { bytes, runs, warmupBytes = 1 << 20 }) {
  const file = (tag, size) => ({
    name: name(tag),
    size,
    sha256: writeTestFile(join(upstreamDistfiles, name(tag)), size),
  });
  const direct = file('direct', bytes);
  const link = (tag) => {
    linkSync(join(upstreamDistfiles, direct.name), join(upstreamDistfiles, name(tag)));
    return { ...direct, name: name(tag) };
  };
  return {
    direct,
    nginx: Array.from({ length: runs }, (_, i) => link(`nginx-${i + 1}`)),
    portcache: Array.from({ length: runs }, (_, i) => link(`portcache-${i + 1}`)),
    warmup: { nginx: file('warmup-nginx', warmupBytes), portcache: file('warmup-portcache', warmupBytes) },
  };
}

/**
 * Runs the item. `nc` is { dir, upstreamPort } of the proxy cache (see proxyCacheFile); the
 * bases are the /distfiles URLs of the upstream, the proxy cache and portcache.
 */
export async function itemFastFill({ files, upBase, ncBase, pcBase, pcPort, pcPid, nc, upAccessLog }) {
  const timeoutMs = 600_000;
  const size = files.direct.size;
  const body = Buffer.allocUnsafeSlow(size).fill(0); // touched now, so no page faults while timing
  const fetchChecked = async (url, file) => {
    let offset = 0;
    const r = await rawGet(url, {
      timeoutMs,
      onBody: (chunk) => {
        offset += chunk.copy(body, offset);
      },
    });
    const seconds = (r.end - r.start) / 1000;
    const sha256 = createHash('sha256').update(body.subarray(0, offset)).digest('hex');
    if (r.status !== 200 || r.bytes !== file.size || offset !== file.size || sha256 !== file.sha256) {
      throw new Error(
        `GET ${url}: HTTP ${r.status}, ${r.bytes} of ${file.size} bytes, sha256 ${sha256 === file.sha256 ? 'ok' : 'WRONG'}`,
      );
    }
    return { MBps: r.bytes / seconds / MB, seconds, ttfbMs: r.firstByte - r.start };
  };

  // After a fill the next run waits until the cache has the file on disk, so that neither cache's
  // write-back lands in the next run: portcache counts a commit on /metrics after fsyncing the
  // file; nginx renames its temp file into the cache directory and does not fsync, so we do.
  const viaPortcache = await untilCommitted(
    pcPort,
    (file) => fetchChecked(`${pcBase}/${file.name}`, file),
    120_000,
  );
  const viaNginx = async (file) => {
    const r = await fetchChecked(`${ncBase}/${file.name}`, file);
    const path = proxyCacheFile(nc, file.name);
    await waitUntil(
      `nginx to cache ${file.name}`,
      () => statSync(path, { throwIfNoEntry: false })?.size > file.size,
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return r;
  };
  const fetchSide = {
    direct: () => fetchChecked(`${upBase}/${files.direct.name}`, files.direct),
    nginx: (run) => viaNginx(files.nginx[run]),
    portcache: (run) => viaPortcache(files.portcache[run]),
  };

  // Not counted: each cache's first miss (portcache also fetches the mirror's layout.conf then).
  await viaNginx(files.warmup.nginx);
  await viaPortcache(files.warmup.portcache);
  const runs = { direct: [], nginx: [], portcache: [] };
  for (let run = 0; run < files.nginx.length; run++) {
    // Each side goes first once in three runs.
    const order = SIDES.map((_, k) => SIDES[(k + run) % SIDES.length]);
    for (const side of order) {
      await sleep(50);
      const cpu = cpuSecondsOf(pcPid);
      const r = await fetchSide[side](run);
      runs[side].push({ ...r, portcacheCpuSeconds: round(cpuSecondsOf(pcPid) - cpu, 2) });
    }
    log(
      `run ${run + 1} (${order.join(', ')}): ` +
        SIDES.map((side) => `${side} ${round(runs[side][run].MBps, 0)} MB/s`).join(', '),
    );
  }

  // Every cache run was a miss: the upstream served each file whole, once; nginx logged MISS.
  const upstreamRequests = (file) => upAccessLog().filter((e) => e.uri === `/distfiles/${file.name}`);
  const nginxLog = parseProxyCacheLog(readText(join(nc.dir, 'access.log')));
  const misses = {
    portcache: files.portcache.map((f) => upstreamRequests(f).map((e) => e.bodyBytes)),
    nginx: files.nginx.map((f) => ({
      upstream: upstreamRequests(f).map((e) => e.bodyBytes),
      cacheStatus: nginxLog.filter((e) => e.uri === `/distfiles/${f.name}`).map((e) => e.cacheStatus),
    })),
  };
  const medians = Object.fromEntries(SIDES.map((side) => [side, median(runs[side].map((r) => r.MBps))]));
  return {
    fileBytes: size,
    runs: files.nginx.length,
    directMBps: medians.direct,
    nginxMBps: medians.nginx,
    portcacheMBps: medians.portcache,
    ratioToNginx: medians.portcache / medians.nginx,
    ratioToDirect: medians.portcache / medians.direct,
    allMisses:
      misses.portcache.every((bytes) => bytes.length === 1 && bytes[0] === size) &&
      misses.nginx.every(
        (m) => m.upstream.length === 1 && m.upstream[0] === size && m.cacheStatus[0] === 'MISS',
      ),
    misses,
    samples: Object.fromEntries(
      SIDES.map((side) => [
        side,
        runs[side].map((r) => ({
          MBps: round(r.MBps, 1),
          seconds: round(r.seconds, 3),
          ttfbMs: round(r.ttfbMs, 2),
          portcacheCpuSeconds: r.portcacheCpuSeconds,
        })),
      ]),
    ),
  };
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
