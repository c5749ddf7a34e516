// `npm run bench`: portcache against nginx on 127.0.0.1, as specified in the benchmark issue.
//
//   1. cached 64 KiB hits under wrk (req/s, portcache / reference nginx on the same files)
//   2. one stream of a cached 1 GiB file (MB/s, portcache / reference nginx)
//   3. time to first byte of a miss through portcache minus that of the upstream itself
//   4. 16 clients on one uncached 256 MiB file: wall time / one direct download, upstream
//      bytes / file size, every body byte-identical
//   5. a 1 MB/s client joined to a fill does not slow the fill
//   6. peak RSS of the portcache process
//   7. the repository index on a ::gentoo-sized tree
//   8. a 1 GiB miss from an unthrottled upstream: MB/s, portcache / nginx proxy_cache and / direct
//   9. a fleet replay: 40 clients × 150 distfiles with resumes, portcache vs nginx proxy_cache
//
// Progress goes to stderr; the Markdown table and then a JSON object go to stdout. A full run
// also writes docs/benchmarks.md and docs/benchmarks.json. BENCH_QUICK=1 runs a short version
// (smaller files, shorter runs) and does not touch docs/; see docs/benchmarks.md for every knob.
// Everything runs on 127.0.0.1; scratch data lives in a fresh portcache-bench-* directory
// under the system temp dir, removed at exit together with every child process.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { itemFastFill, writeFastFillFiles } from './bench/fast-fill.mjs';
import { fleetPlan, itemFleet, writeFleetFiles } from './bench/fleet.mjs';
import {
  alignToSecond,
  blake2bPrefix,
  commandExists,
  cpuSecondsOf,
  download,
  firstLine,
  freePorts,
  head,
  KiB,
  killAllChildrenSync,
  log,
  MiB,
  median,
  memoryOf,
  ownCpuSeconds,
  parseAccessLog,
  parseWrk,
  portcacheCounter,
  rawGet,
  referenceNginxConf,
  round,
  run,
  simultaneousClients,
  sleep,
  startCommandOf,
  startDaemon,
  systemBusySeconds,
  throttledClient,
  untilCommitted,
  upstreamNginxConf,
  waitUntil,
  writeTestFile,
} from './bench/lib.mjs';
import { proxyCacheNginxConf } from './bench/proxy-cache-nginx.mjs';
import { renderDocs, renderTable } from './bench/report.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.env.BENCH_QUICK === '1';

function intSetting(name, full, quick) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return QUICK ? quick : full;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${raw}: expected a positive integer`);
  return value;
}

function stringSetting(name, fallback) {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

const config = {
  quick: QUICK,
  hitFiles: intSetting('BENCH_HIT_FILES', 1000, 200),
  hitFileBytes: intSetting('BENCH_HIT_KIB', 64, 64) * KiB,
  wrkThreads: intSetting('BENCH_WRK_THREADS', 2, 2),
  wrkConnections: intSetting('BENCH_WRK_CONNECTIONS', 32, 32),
  wrkSeconds: intSetting('BENCH_WRK_SECONDS', 5, 3),
  wrkRuns: intSetting('BENCH_WRK_RUNS', 6, 1),
  wrkWarmupSeconds: intSetting('BENCH_WRK_WARMUP_SECONDS', 3, 1),
  bigFileBytes: intSetting('BENCH_BIG_MIB', 1024, 128) * MiB,
  bigRuns: intSetting('BENCH_BIG_RUNS', 5, 3),
  missFileBytes: intSetting('BENCH_MISS_MIB', 16, 4) * MiB,
  missFiles: intSetting('BENCH_MISS_FILES', 20, 5),
  upstreamRate: stringSetting('BENCH_UPSTREAM_RATE', '50m'),
  upstreamMaxChunk: stringSetting('BENCH_UPSTREAM_MAX_CHUNK', '100k'),
  flockFileBytes: intSetting('BENCH_FLOCK_MIB', 256, 64) * MiB,
  flockClients: intSetting('BENCH_FLOCK_CLIENTS', 16, 16),
  clientThreads: intSetting('BENCH_CLIENT_THREADS', os.availableParallelism(), os.availableParallelism()),
  slowClientBytesPerSecond: intSetting('BENCH_SLOW_RATE', 1_000_000, 1_000_000),
  fastFillBytes: intSetting('BENCH_FAST_MIB', 1024, 128) * MiB,
  fastFillRuns: intSetting('BENCH_FAST_RUNS', 3, 3),
  fleetClients: intSetting('BENCH_FLEET_CLIENTS', 40, 8),
  fleetFiles: intSetting('BENCH_FLEET_FILES', 150, 30),
  fleetMinBytes: intSetting('BENCH_FLEET_MIN_KIB', 64, 64) * KiB,
  fleetMaxBytes: intSetting('BENCH_FLEET_MAX_MIB', 64, 16) * MiB,
  fleetSeed: intSetting('BENCH_FLEET_SEED', 1, 1),
  fleetRounds: intSetting('BENCH_FLEET_ROUNDS', 4, 2),
  rssSampleMs: 200,
  timeoutMinutes: intSetting('BENCH_TIMEOUT_MIN', 20, 10),
  items: stringSetting('BENCH_ITEMS', '1,2,3,4,5,7,8,9')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
  build: process.env.BENCH_SKIP_BUILD !== '1',
  // Only a full run of every item replaces docs/benchmarks.*, unless asked.
  writeDocs: process.env.BENCH_WRITE_DOCS
    ? process.env.BENCH_WRITE_DOCS === '1'
    : !QUICK && !process.env.BENCH_ITEMS,
  keepTemp: process.env.BENCH_KEEP === '1',
};

// Thresholds from the issue. `op` says which way is good.
const SPEC = {
  hits: { op: '>=', must: 0.35, target: 0.7 },
  big: { op: '>=', must: 0.6, target: 0.9 },
  ttfb: { op: '<=', must: 5, target: 2 },
  flockWall: { op: '<=', must: 1.15, target: 1.05 },
  flockUpstream: { op: '==', must: 1, target: 1 },
  flockIdentical: { op: '==', must: 1, target: 1 },
  slowJoin: { op: '<=', must: 1.05, target: 1.05 },
  rss: { op: '<=', must: 150, target: 120 },
  indexBuild: { op: '<=', must: 3.5, target: 2 },
  indexMemory: { op: '<=', must: 150, target: 100 },
  indexRefresh: { op: '<=', must: 0.5, target: 0.5 },
  // No must or no target where the issue sets none; undefined shows as –.
  fastFillNginx: { op: '>=', must: 1, target: undefined },
  fastFillDirect: { op: '>=', must: undefined, target: 0.8 },
  fleetUpstream: { op: '==', must: 1, target: 1 },
  fleetRight: { op: '==', must: 1, target: 1 },
  fleetMean: { op: '<=', must: 1, target: 0.7 },
  fleetRss: { op: '<=', must: undefined, target: undefined },
};

let tmp;
const MB = 1e6;
// The long-running children (portcache and the nginx masters), for CPU accounting.
const serverPids = [];
// Big transfers from the rate-limited upstream start this far past a whole second (see alignToSecond).
const PHASE_MS = 100;
// The phase VmRSS samples are attributed to, to tell which item drives the peak.
let rssPhase = 'startup';
const rssByPhase = {};

// Whatever happens, children die and the scratch directory goes.
process.on('exit', () => {
  killAllChildrenSync();
  if (tmp && !config.keepTemp) rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping children and removing ${tmp ?? 'nothing'}`);
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  log(`still running after ${config.timeoutMinutes} minutes (BENCH_TIMEOUT_MIN): giving up`);
  process.exit(3);
}, config.timeoutMinutes * 60_000);
watchdog.unref();

// ---------------------------------------------------------------------------------------------

async function ensureTools() {
  const missing = [];
  if (!commandExists('nginx')) missing.push('nginx-light');
  if (!commandExists('wrk')) missing.push('wrk');
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  const result = await run(
    'sh',
    ['-c', `apt-get update -qq && apt-get install -y -qq ${missing.join(' ')}`],
    {
      timeoutMs: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  if (result.code !== 0 || !commandExists('nginx') || !commandExists('wrk')) {
    throw new Error(`could not install ${missing.join(' ')}:\n${result.stdout}${result.stderr}`);
  }
}

function buildPortcache() {
  log('npm run build');
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2], timeout: 600_000 });
  if (result.status !== 0) throw new Error(`npm run build failed (status ${result.status})`);
}

function machineInfo() {
  let osName;
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {}
  let git;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length;
    git = { commit, uncommittedFilesInSrc: dirty };
  } catch {}
  return {
    nproc: os.availableParallelism(),
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
    cpu: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: osName,
    kernel: os.release(),
    node: process.version,
    nginx: firstLine('nginx', ['-v']),
    wrk: firstLine('wrk', ['-v'])?.replace(/\s*Copyright.*$/, ''),
    curl: firstLine('curl', ['--version']),
    git,
  };
}

/** Writes the nginx config, checks it with `nginx -t`, starts nginx in the foreground and waits until it answers. */
async function startNginx(name, dir, port, confText) {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, confText);
  const base = ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf];
  const test = await run('nginx', ['-t', '-q', ...base], { timeoutMs: 30_000 });
  if (test.code !== 0) throw new Error(`nginx -t (${name}) failed:\n${test.stderr}${test.stdout}`);
  const daemon = startDaemon(name, 'nginx', [...base, '-g', 'daemon off;'], {
    logPath: join(dir, 'stdout.log'),
  });
  await waitUntil(`${name} on port ${port}`, async () => {
    if (!daemon.running) throw new Error(`${name} exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    const { status } = await download(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 });
    return status > 0;
  });
  return daemon;
}

function tail(text, lines = 20) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function verdict(spec, value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return { pass: false, targetMet: false };
  const ok = (limit) =>
    spec.op === '>=' ? value >= limit : spec.op === '<=' ? value <= limit : Math.abs(value - limit) < 5e-4;
  const pass = spec.must === undefined || ok(spec.must);
  return { pass, targetMet: spec.target === undefined ? pass : ok(spec.target) };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const runBusy = systemBusySeconds();
  const runOwn = ownCpuSeconds([]);
  await ensureTools();
  if (config.build) buildPortcache();
  const machine = machineInfo();
  if (machine.loadAverageAtStart[0] > machine.nproc / 2) {
    log(
      `warning: load average ${machine.loadAverageAtStart[0]} on ${machine.nproc} CPUs: other work skews the numbers`,
    );
  }
  tmp = await mkdtemp(join(os.tmpdir(), 'portcache-bench-'));
  log(`scratch directory ${tmp}`);

  const out = {
    date: startedAt.toISOString(),
    machine,
    config: { ...config, portcacheEnvPassedThrough: {} },
    checks: [],
    items: {},
    rows: [],
    portcache: {},
  };
  const check = (what, ok, detail) => {
    out.checks.push({ what, ok, ...(detail === undefined ? {} : { detail }) });
    if (!ok) log(`CHECK FAILED: ${what}${detail ? `: ${detail}` : ''}`);
  };

  // --- test data ------------------------------------------------------------------------------
  const cacheDir = join(tmp, 'cache');
  const upstreamRoot = join(tmp, 'upstream');
  const upstreamDistfiles = join(upstreamRoot, 'distfiles');
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(upstreamDistfiles, { recursive: true });
  const cached = (name, size) => {
    const prefix = blake2bPrefix(name);
    mkdirSync(join(cacheDir, prefix), { recursive: true });
    return { name, prefix, size, sha256: writeTestFile(join(cacheDir, prefix, name), size) };
  };
  const upstreamFile = (name, size) => ({
    name,
    size,
    sha256: writeTestFile(join(upstreamDistfiles, name), size),
  });

  log(
    `writing ${config.hitFiles} × ${config.hitFileBytes / KiB} KiB and one ${config.bigFileBytes / MiB} MiB file`,
  );
  const hits = [];
  for (let i = 0; i < config.hitFiles; i++) {
    hits.push(cached(`bench-hit-${String(i).padStart(5, '0')}.tar.gz`, config.hitFileBytes));
  }
  const big = cached('bench-big.tar.xz', config.bigFileBytes);

  log('writing the upstream mirror');
  writeFileSync(join(upstreamDistfiles, 'layout.conf'), '[structure]\n0=flat\n');
  const missPairs = [];
  for (let i = 0; i <= config.missFiles; i++) {
    const tag = i === config.missFiles ? 'warmup' : String(i).padStart(3, '0');
    missPairs.push({
      viaPortcache: upstreamFile(`miss-${tag}.tar.gz`, config.missFileBytes),
      direct: upstreamFile(`direct-${tag}.tar.gz`, config.missFileBytes),
    });
  }
  const missWarmup = missPairs.pop();
  const flock = upstreamFile('flock.tar.xz', config.flockFileBytes);
  const fillAlone = upstreamFile('fill-alone.tar.xz', config.flockFileBytes);
  const fillSlowJoin = upstreamFile('fill-slowjoin.tar.xz', config.flockFileBytes);
  let fastFill;
  if (config.items.includes('8')) {
    log(`writing ${config.fastFillBytes / MiB} MiB for item 8`);
    fastFill = writeFastFillFiles(upstreamDistfiles, {
      bytes: config.fastFillBytes,
      runs: config.fastFillRuns,
    });
  }
  let fleet;
  if (config.items.includes('9')) {
    const plan = fleetPlan({
      clients: config.fleetClients,
      files: config.fleetFiles,
      minBytes: config.fleetMinBytes,
      maxBytes: config.fleetMaxBytes,
      seed: config.fleetSeed,
    });
    log(
      `writing 2 × ${plan.sizes.length} fleet files of ${round(plan.sizes.reduce((a, b) => a + b) / MiB, 0)} MiB` +
        ` (and hard links to them for ${config.fleetRounds - 1} more round(s))`,
    );
    const rounds = config.fleetRounds;
    fleet = { plan, files: writeFleetFiles(plan, { upstreamDistfiles, cacheDir, rounds }) };
  }
  log('sync (so that write-back of the test data does not run during the measurements)');
  spawnSync('sync', [], { timeout: 300_000 });

  // --- servers --------------------------------------------------------------------------------
  const [refPort, upPort, pcPort, ncPort] = await freePorts(4);
  const refDir = join(tmp, 'nginx-reference');
  const upDir = join(tmp, 'nginx-upstream');
  const reference = await startNginx(
    'reference nginx',
    refDir,
    refPort,
    referenceNginxConf({ dir: refDir, port: refPort, cacheDir }),
  );
  const upstream = await startNginx(
    'upstream nginx',
    upDir,
    upPort,
    upstreamNginxConf({
      dir: upDir,
      port: upPort,
      root: upstreamRoot,
      rate: config.upstreamRate,
      maxChunk: config.upstreamMaxChunk,
    }),
  );
  serverPids.push(reference.pid, upstream.pid);
  // The nginx proxy_cache that items 8-9 compare with.
  const nc = { dir: join(tmp, 'nginx-proxy-cache'), upstreamPort: upPort };
  const proxyCache =
    fastFill || fleet
      ? await startNginx('proxy-cache nginx', nc.dir, ncPort, proxyCacheNginxConf({ ...nc, port: ncPort }))
      : undefined;
  if (proxyCache) serverPids.push(proxyCache.pid);
  const upAccessLog = () => parseAccessLog(readFileSync(join(upDir, 'access.log'), 'utf8'));

  const pcCwd = join(tmp, 'portcache-cwd'); // no stray .env gets loaded
  mkdirSync(pcCwd);
  const pcEnv = { ...process.env };
  for (const key of Object.keys(pcEnv)) {
    if (key.startsWith('PORTCACHE_')) out.config.portcacheEnvPassedThrough[key] = pcEnv[key];
  }
  Object.assign(pcEnv, {
    PORTCACHE_HOST: '127.0.0.1',
    PORTCACHE_PORT: String(pcPort),
    PORTCACHE_CACHE_DIR: cacheDir,
    PORTCACHE_MIRRORS: `http://127.0.0.1:${upPort}`,
    NO_COLOR: '1',
  });
  for (const key of ['PORTCACHE_HOST', 'PORTCACHE_PORT', 'PORTCACHE_CACHE_DIR', 'PORTCACHE_MIRRORS']) {
    delete out.config.portcacheEnvPassedThrough[key];
  }
  const pcLogPath = join(tmp, 'portcache.log');
  const { env: startEnv, flags: nodeFlags } = startCommandOf(ROOT);
  Object.assign(pcEnv, startEnv);
  out.config.portcacheNodeFlags = nodeFlags;
  out.config.portcacheStartEnv = startEnv;
  const pc = startDaemon('portcache', process.execPath, [...nodeFlags, join(ROOT, 'dist', 'main.js')], {
    logPath: pcLogPath,
    env: pcEnv,
    cwd: pcCwd,
  });
  serverPids.push(pc.pid);
  let maxSampledRss = 0;
  rssPhase = 'startup';
  const rssTimer = setInterval(() => {
    const rss = memoryOf(pc.pid)?.rss;
    if (!rss) return;
    if (rss > maxSampledRss) maxSampledRss = rss;
    if (rss > (rssByPhase[rssPhase] ?? 0)) rssByPhase[rssPhase] = rss;
  }, config.rssSampleMs);

  const pcBase = `http://127.0.0.1:${pcPort}/distfiles`;
  const refBase = `http://127.0.0.1:${refPort}/distfiles`;
  const upBase = `http://127.0.0.1:${upPort}/distfiles`;
  const ncBase = `http://127.0.0.1:${ncPort}/distfiles`;
  const assertPortcacheAlive = () => {
    if (!pc.running) {
      throw new Error(`portcache exited (${JSON.stringify(pc.exitInfo)}); log tail:\n${tail(pc.readLog())}`);
    }
  };

  try {
    const pcStarted = performance.now();
    await waitUntil(
      'portcache to log "on http://"',
      () => {
        assertPortcacheAlive();
        return /on http:\/\//.test(pc.readLog());
      },
      { timeoutMs: 60_000 },
    ).catch((error) => {
      throw new Error(`${error.message}; log tail:\n${tail(pc.readLog())}`);
    });
    // Files put into the cache by hand are hashed after startup, then served: wait for all of them.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    let pending = [big, ...hits, ...(fleet?.files.preplaced ?? [])];
    await waitUntil(
      `portcache to adopt ${pending.length} pre-placed files`,
      async () => {
        assertPortcacheAlive();
        const still = [];
        for (let i = 0; i < pending.length; i += 64) {
          const batch = pending.slice(i, i + 64);
          const codes = await Promise.all(batch.map((f) => head(`${pcBase}/${f.prefix}/${f.name}`, agent)));
          batch.forEach((f, k) => {
            if (codes[k] !== 200) still.push(f);
          });
        }
        pending = still;
        return pending.length === 0;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    agent.destroy();
    out.portcache.adoptionSeconds = round((performance.now() - pcStarted) / 1000, 2);
    out.portcache.adoptionLogLine = /hashing \d+ file\(s\)[^\n]*/.exec(pc.readLog())?.[0];
    log(`portcache serves all pre-placed files (${out.portcache.adoptionSeconds} s after start)`);

    // Hits must be the right bytes before their speed means anything.
    rssPhase = 'verify hits';
    try {
      const sample = hits.filter((_, i) => i % Math.max(1, Math.floor(hits.length / 50)) === 0);
      const wrong = [];
      for (const [i, f] of [...sample, ...sample.slice(0, 5)].entries()) {
        const url = i < sample.length ? `${pcBase}/${f.prefix}/${f.name}` : `${pcBase}/${f.name}`;
        const r = await download(url, { hash: true });
        if (r.status !== 200 || r.sha256 !== f.sha256)
          wrong.push(`${url}: HTTP ${r.status}, ${r.bytes} bytes`);
      }
      check(
        `${sample.length + 5} cached small files (hashed and flat paths) byte-identical`,
        wrong.length === 0,
        wrong.length ? `${wrong.length} differ, e.g. ${wrong[0]}` : undefined,
      );
      const r = await download(`${pcBase}/${big.prefix}/${big.name}`, { hash: true, timeoutMs: 600_000 });
      check(
        `cached ${big.size / MiB} MiB file byte-identical`,
        r.status === 200 && r.sha256 === big.sha256,
        `HTTP ${r.status}, ${r.bytes} bytes`,
      );
    } catch (error) {
      check('cached files served correctly', false, error.message);
    }

    if (config.items.includes('1'))
      await measure(out, 'hits', () => itemHits({ hits, refPort, pcPort, tmp }), pc.pid);
    if (config.items.includes('2'))
      await measure(out, 'big', () => itemBig({ big, refBase, pcBase }), pc.pid);
    if (config.items.includes('3'))
      await measure(out, 'ttfb', () => itemTtfb({ missPairs, missWarmup, upBase, pcBase, pcPort }), pc.pid);
    if (config.items.includes('4'))
      await measure(
        out,
        'flock',
        () => itemFlock({ flock, upBase, pcBase, upAccessLog, pcPort, pcPid: pc.pid }),
        pc.pid,
      );
    if (config.items.includes('5'))
      await measure(out, 'slowJoin', () => itemSlowJoin({ fillAlone, fillSlowJoin, pcBase, check }), pc.pid);
    if (fastFill) {
      const args = { files: fastFill, upBase, ncBase, pcBase, pcPort, pcPid: pc.pid, nc, upAccessLog };
      await measure(out, 'fastFill', () => itemFastFill(args), pc.pid);
    }
    if (fleet) {
      const rss = { setPhase: (phase) => (rssPhase = phase), peak: (phase) => rssByPhase[phase] };
      const args = {
        ...fleet,
        pcBase,
        ncBase,
        pcPort,
        nc,
        upAccessLog,
        upstreamDistfiles,
        threads: config.clientThreads,
        rss,
        pids: { portcache: pc.pid, nginx: proxyCache?.pid, upstream: upstream.pid },
      };
      await measure(out, 'fleet', () => itemFleet(args), pc.pid);
    }

    const memory = memoryOf(pc.pid);
    out.items.rss = pc.running
      ? {
          vmHwmBytes: memory?.hwm,
          maxSampledVmRssBytes: maxSampledRss,
          vmHwmMB: round(memory?.hwm / MB, 1),
          maxSampledVmRssMB: round(maxSampledRss / MB, 1),
          maxSampledVmRssMBByPhase: Object.fromEntries(
            Object.entries(rssByPhase).map(([phase, bytes]) => [phase, round(bytes / MB, 1)]),
          ),
        }
      : { error: `portcache is no longer running (${JSON.stringify(pc.exitInfo)}): no VmHWM to read` };
  } finally {
    clearInterval(rssTimer);
    if (pc.running) out.portcache.exitAfterSigterm = await pc.stop('SIGTERM', 10_000);
    else out.portcache.exitedByItself = pc.exitInfo;
    const pcLog = pc.readLog();
    const notable = pcLog.split('\n').filter((line) => /\b(WARN|ERROR)\b/.test(line));
    out.portcache.logLines = pcLog.split('\n').filter(Boolean).length;
    out.portcache.warningsAndErrors = notable.slice(0, 100);
    if (out.portcache.exitedByItself) out.portcache.logTail = tail(pcLog, 40).split('\n');
    if (notable.length > 100) out.portcache.warningsAndErrorsOmitted = notable.length - 100;
    await reference.stop('SIGTERM', 5000);
    await upstream.stop('SIGTERM', 5000);
    await proxyCache?.stop('SIGTERM', 5000);
  }

  // 7 runs its own fresh processes, after portcache has stopped (not part of item 6).
  if (config.items.includes('7')) await measure(out, 'index', itemIndex, process.pid);

  out.machine.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  // Every child has exited and been reaped by now, so its CPU time is in ours.
  out.machine.otherProcessesCpuSecondsDuringRun = round(
    systemBusySeconds() - runBusy - (ownCpuSeconds([]) - runOwn),
    1,
  );
  out.rows = buildRows(out);
  out.durationSeconds = round((Date.now() - startedAt.getTime()) / 1000, 1);
  return out;
}

/** Runs one item; records its result (or its error) and the CPU time portcache and this script used meanwhile. */
async function measure(out, key, fn, pcPid) {
  log(`--- ${key}`);
  rssPhase = key;
  const busy = systemBusySeconds();
  const own = ownCpuSeconds(serverPids);
  const pcCpu = cpuSecondsOf(pcPid);
  const benchCpu = process.cpuUsage();
  const started = performance.now();
  try {
    out.items[key] = await fn();
  } catch (error) {
    log(`${key} failed: ${error.stack ?? error}`);
    out.items[key] = { error: String(error.message ?? error) };
  }
  const used = process.cpuUsage(benchCpu);
  out.items[key].cpu = {
    wallSeconds: round((performance.now() - started) / 1000, 2),
    portcacheCpuSeconds: round(cpuSecondsOf(pcPid) - pcCpu, 2),
    benchScriptCpuSeconds: round((used.user + used.system) / 1e6, 2),
    // Busy CPU time of the machine not spent by this script, its children or the servers.
    otherProcessesCpuSeconds: round(systemBusySeconds() - busy - (ownCpuSeconds(serverPids) - own), 2),
  };
  const other = out.items[key].cpu.otherProcessesCpuSeconds;
  if (other > 0.05 * out.items[key].cpu.wallSeconds * os.availableParallelism()) {
    log(`warning: other processes used ${other} CPU seconds during ${key}: its numbers are skewed`);
  }
}

// ---------------------------------------------------------------------------------------------
// 7. The repository index on a ::gentoo-sized tree (scripts/bench/index-bench.mjs).

async function itemIndex() {
  const child = spawnSync(process.execPath, [join(ROOT, 'scripts/bench/index-bench.mjs')], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    timeout: 10 * 60_000,
  });
  if (child.status !== 0) throw new Error(`index-bench failed: ${child.stderr || child.error}`);
  return JSON.parse(child.stdout);
}

// ---------------------------------------------------------------------------------------------
// 1. Cached 64 KiB files under wrk.

async function itemHits({ hits, refPort, pcPort, tmp }) {
  const lua = join(tmp, 'hits.lua');
  await writeFile(
    lua,
    `-- cycles through the cached files; each thread starts at a different place
local paths = {
${hits.map((f) => `  "/distfiles/${f.prefix}/${f.name}",`).join('\n')}
}
local n = #paths
local created = 0
function setup(thread)
  thread:set("bench_thread", created)
  created = created + 1
end
local requests = {}
local i = 0
function init(args)
  for k = 1, n do requests[k] = wrk.format("GET", paths[k]) end
  i = ((bench_thread or 0) * math.floor(n / 2)) % n
end
function request()
  i = i % n + 1
  return requests[i]
end
`,
  );
  const wrk = async (label, port, seconds) => {
    const args = [
      `-t${config.wrkThreads}`,
      `-c${config.wrkConnections}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '-s',
      lua,
      `http://127.0.0.1:${port}/`,
    ];
    const result = await run('wrk', args, { timeoutMs: (seconds + 60) * 1000 });
    const parsed = parseWrk(result.stdout);
    if (result.code !== 0 || !parsed.requestsPerSecond) {
      throw new Error(`wrk against ${label} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
    }
    log(
      `${label}: ${parsed.requestsPerSecond} req/s, ${parsed.transferPerSecond}/s` +
        (parsed.non2xx3xx ? `, ${parsed.non2xx3xx} non-2xx/3xx` : ''),
    );
    return parsed;
  };
  log(`warm-up, ${config.wrkWarmupSeconds} s each`);
  await wrk('nginx (warm-up)', refPort, config.wrkWarmupSeconds);
  await wrk('portcache (warm-up)', pcPort, config.wrkWarmupSeconds);
  // Rounds of one run per server back to back, the first server alternating, and the ratio of
  // each round: other VMs on this host slow the machine for tens of seconds at a time, which a
  // ratio of two medians taken minutes apart turns into a verdict (performance-notes).
  const nginx = [];
  const portcache = [];
  const roundRatios = [];
  for (let r = 0; r < config.wrkRuns; r++) {
    const nginxRun = () => wrk(`nginx run ${r + 1}`, refPort, config.wrkSeconds);
    const portcacheRun = () => wrk(`portcache run ${r + 1}`, pcPort, config.wrkSeconds);
    if (r % 2 === 0) {
      nginx.push(await nginxRun());
      portcache.push(await portcacheRun());
    } else {
      portcache.push(await portcacheRun());
      nginx.push(await nginxRun());
    }
    roundRatios.push(portcache[r].requestsPerSecond / nginx[r].requestsPerSecond);
  }
  const nginxMedian = median(nginx.map((x) => x.requestsPerSecond));
  const portcacheMedian = median(portcache.map((x) => x.requestsPerSecond));
  const errors = (runs) =>
    runs.reduce((sum, x) => sum + x.non2xx3xx + Object.values(x.socketErrors).reduce((a, b) => a + b, 0), 0);
  return {
    files: hits.length,
    fileBytes: config.hitFileBytes,
    nginxRequestsPerSecond: nginxMedian,
    portcacheRequestsPerSecond: portcacheMedian,
    ratio: median(roundRatios),
    roundRatios,
    ratioOfMedians: portcacheMedian / nginxMedian,
    portcacheErrors: errors(portcache),
    nginxErrors: errors(nginx),
    runs: { nginx, portcache },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. One stream of a cached big file.

async function itemBig({ big, refBase, pcBase }) {
  const path = `${big.prefix}/${big.name}`;
  const clients = {
    curl: async (url) => {
      const r = await run(
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url],
        {
          timeoutMs: 600_000,
        },
      );
      const [code, size, seconds] = r.stdout.trim().split(' ').map(Number);
      if (r.code !== 0 || code !== 200 || size !== big.size) {
        throw new Error(
          `curl ${url}: exit ${r.code}, HTTP ${code}, ${size} of ${big.size} bytes ${r.stderr}`,
        );
      }
      return size / seconds / MB;
    },
    node: async (url) => {
      const r = await rawGet(url, { timeoutMs: 600_000 });
      if (r.status !== 200 || r.bytes !== big.size) {
        throw new Error(`GET ${url}: HTTP ${r.status}, ${r.bytes} of ${big.size} bytes`);
      }
      return r.bytes / ((r.end - r.start) / 1000) / MB;
    },
  };
  // Pick the client that is faster against nginx, so the client is not what limits the reference.
  const calibration = { curl: [], node: [] };
  for (let r = 0; r < 2; r++) {
    for (const name of ['curl', 'node']) calibration[name].push(await clients[name](`${refBase}/${path}`));
  }
  const client = Math.max(...calibration.curl) >= Math.max(...calibration.node) ? 'curl' : 'node';
  log(
    `client calibration against nginx (MB/s): curl ${calibration.curl.map((x) => round(x, 0)).join(', ')}; ` +
      `node ${calibration.node.map((x) => round(x, 0)).join(', ')} → ${client}`,
  );
  const nginx = [];
  const portcache = [];
  for (let r = 0; r < config.bigRuns; r++) {
    nginx.push(await clients[client](`${refBase}/${path}`));
    portcache.push(await clients[client](`${pcBase}/${path}`));
    log(`run ${r + 1}: nginx ${round(nginx[r], 0)} MB/s, portcache ${round(portcache[r], 0)} MB/s`);
  }
  const nginxMedian = median(nginx);
  const portcacheMedian = median(portcache);
  return {
    fileBytes: big.size,
    client,
    calibrationMBps: calibration,
    nginxMBps: nginxMedian,
    portcacheMBps: portcacheMedian,
    ratio: portcacheMedian / nginxMedian,
    runsMBps: { nginx, portcache },
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Time to first byte of a miss, through portcache and directly from the upstream.

async function itemTtfb({ missPairs, missWarmup, upBase, pcBase, pcPort }) {
  const fetchChecked = async (url, file) => {
    const r = await download(url, { hash: true, timeoutMs: 120_000 });
    if (r.status !== 200 || r.bytes !== file.size || r.sha256 !== file.sha256) {
      throw new Error(
        `GET ${url}: HTTP ${r.status}, ${r.bytes} of ${file.size} bytes, sha256 ${r.sha256 === file.sha256 ? 'ok' : 'WRONG'}`,
      );
    }
    return r;
  };
  // A client has all bytes before portcache has committed the file (fsync, renames): let every
  // fill finish before the next measurement, so that its disk work does not land in the next TTFB.
  const committedMiss = await untilCommitted(
    pcPort,
    (file) => fetchChecked(`${pcBase}/${file.name}`, file),
    30_000,
  );
  const viaPortcache = async (file) => {
    const r = await committedMiss(file);
    await sleep(50);
    return r;
  };
  // Not counted: the first miss also fetches the mirror's layout.conf.
  await fetchChecked(`${upBase}/${missWarmup.direct.name}`, missWarmup.direct);
  await viaPortcache(missWarmup.viaPortcache);
  const samples = [];
  for (const [i, pair] of missPairs.entries()) {
    // Alternate which side goes first, so that neither always follows the other.
    let direct;
    let via;
    if (i % 2 === 0) {
      direct = await fetchChecked(`${upBase}/${pair.direct.name}`, pair.direct);
      via = await viaPortcache(pair.viaPortcache);
    } else {
      via = await viaPortcache(pair.viaPortcache);
      direct = await fetchChecked(`${upBase}/${pair.direct.name}`, pair.direct);
    }
    samples.push({
      directMs: direct.firstByte - direct.start,
      portcacheMs: via.firstByte - via.start,
      directSeconds: (direct.end - direct.start) / 1000,
      portcacheSeconds: (via.end - via.start) / 1000,
    });
  }
  const directMedian = median(samples.map((s) => s.directMs));
  const portcacheMedian = median(samples.map((s) => s.portcacheMs));
  const overhead = median(samples.map((s) => s.portcacheMs - s.directMs));
  log(
    `TTFB median: direct ${round(directMedian, 2)} ms, portcache ${round(portcacheMedian, 2)} ms, ` +
      `paired difference ${round(overhead, 2)} ms`,
  );
  return {
    files: samples.length,
    fileBytes: config.missFileBytes,
    directTtfbMs: directMedian,
    portcacheTtfbMs: portcacheMedian,
    overheadMs: overhead,
    differenceOfMediansMs: portcacheMedian - directMedian,
    samples: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)]))),
  };
}

// ---------------------------------------------------------------------------------------------
// 4. A flock of clients on one uncached big file.

const portcacheUpstreamBytes = (pcPort) => portcacheCounter(pcPort, 'portcache_upstream_bytes_total');

async function itemFlock({ flock, upBase, pcBase, upAccessLog, pcPort, pcPid }) {
  const timeoutMs = 600_000;
  await alignToSecond(PHASE_MS);
  const direct = await download(`${upBase}/${flock.name}?direct=1`, { hash: true, timeoutMs });
  if (direct.status !== 200 || direct.sha256 !== flock.sha256) {
    throw new Error(`direct download of ${flock.name}: HTTP ${direct.status}, wrong bytes`);
  }
  const directSeconds = (direct.end - direct.start) / 1000;
  log(`one direct download: ${round(directSeconds, 3)} s`);
  const metricsBefore = await portcacheUpstreamBytes(pcPort).catch(() => undefined);

  const pcCpu = cpuSecondsOf(pcPid);
  const benchCpu = process.cpuUsage();
  const { startAtEpochMs: start, results } = await simultaneousClients(
    Array.from({ length: config.flockClients }, () => `${pcBase}/${flock.name}`),
    { threads: config.clientThreads, hash: true, timeoutMs, phaseMs: PHASE_MS },
  );
  const benchUsed = process.cpuUsage(benchCpu);
  const pcCpuSeconds = cpuSecondsOf(pcPid) - pcCpu;
  const failures = results.filter((r) => !r.ok).map((r) => r.error);
  const ok = results.filter((r) => r.ok);
  const wallSeconds = ok.length ? (Math.max(...ok.map((r) => r.end)) - start) / 1000 : undefined;
  const identical = ok.filter(
    (r) => r.status === 200 && r.bytes === flock.size && r.sha256 === flock.sha256,
  ).length;
  log(
    `${config.flockClients} clients through portcache: ${round(wallSeconds, 3)} s, ${identical} byte-identical` +
      (failures.length ? `, ${failures.length} failed: ${failures[0]}` : ''),
  );

  // nginx logs a request when it is done: wait (bounded) for portcache's upstream request(s).
  const ours = () =>
    upAccessLog().filter(
      (e) => e.uri.split('?')[0] === `/distfiles/${flock.name}` && !e.uri.includes('direct=1'),
    );
  await waitUntil('the upstream access log entry', () => ours().length > 0, { timeoutMs: 15_000 }).catch(
    () => {},
  );
  await sleep(500);
  const entries = ours();
  const upstreamBodyBytes = entries.reduce((sum, e) => sum + e.bodyBytes, 0);
  const metricsAfter = await portcacheUpstreamBytes(pcPort).catch(() => undefined);
  return {
    fileBytes: flock.size,
    clients: config.flockClients,
    directSeconds,
    wallSeconds,
    ratio: wallSeconds / directSeconds,
    clientSeconds: ok.map((r) => round((r.end - start) / 1000, 3)).sort((a, b) => a - b),
    clientTtfbMs: ok.map((r) => round(r.firstByte - r.start, 2)).sort((a, b) => a - b),
    clientStartSpreadMs: round(Math.max(...ok.map((r) => r.start)) - Math.min(...ok.map((r) => r.start)), 2),
    byteIdenticalClients: identical,
    failedClients: failures,
    portcacheCpuSecondsDuringClients: round(pcCpuSeconds, 2),
    benchScriptCpuSecondsDuringClients: round((benchUsed.user + benchUsed.system) / 1e6, 2),
    upstreamRequests: entries.map(({ seconds, status, bodyBytes, bytesSent, range, userAgent }) => ({
      seconds,
      status,
      bodyBytes,
      bytesSent,
      range,
      userAgent,
    })),
    upstreamBodyBytes,
    upstreamRatio: upstreamBodyBytes / flock.size,
    portcacheMetricUpstreamBytes:
      metricsBefore === undefined || metricsAfter === undefined ? undefined : metricsAfter - metricsBefore,
  };
}

// ---------------------------------------------------------------------------------------------
// 5. A slow client joined to a fill.

async function itemSlowJoin({ fillAlone, fillSlowJoin, pcBase, check }) {
  const timeoutMs = 600_000;
  const verify = (r, file, label) => {
    if (r.status !== 200 || r.bytes !== file.size || r.sha256 !== file.sha256) {
      throw new Error(
        `${label}: HTTP ${r.status}, ${r.bytes} of ${file.size} bytes, sha256 mismatch or short`,
      );
    }
  };
  await alignToSecond(PHASE_MS);
  const alone = await download(`${pcBase}/${fillAlone.name}`, { hash: true, timeoutMs });
  verify(alone, fillAlone, 'fast client alone');
  const aloneSeconds = (alone.end - alone.start) / 1000;
  log(`fill with one fast client: ${round(aloneSeconds, 3)} s`);

  await alignToSecond(PHASE_MS);
  const fastPromise = download(`${pcBase}/${fillSlowJoin.name}`, { hash: true, timeoutMs });
  await sleep(100);
  const slow = throttledClient(`${pcBase}/${fillSlowJoin.name}`, config.slowClientBytesPerSecond);
  let fast;
  let slowStats;
  try {
    fast = await fastPromise;
  } finally {
    slowStats = slow.stop();
  }
  verify(fast, fillSlowJoin, 'fast client with a slow one joined');
  const withSlowSeconds = (fast.end - fast.start) / 1000;
  log(
    `fill with a fast and a ${config.slowClientBytesPerSecond / MB} MB/s client: ${round(withSlowSeconds, 3)} s ` +
      `(slow client got ${slowStats.bytes} bytes, HTTP ${slowStats.status}${slowStats.error ? `, ${slowStats.error}` : ''})`,
  );
  // After the slow client was dropped: the file must be committed and whole.
  await sleep(500);
  const after = await download(`${pcBase}/${fillSlowJoin.name}`, { hash: true, timeoutMs });
  check(
    `${fillSlowJoin.name} served whole after the slow client was dropped`,
    after.status === 200 && after.sha256 === fillSlowJoin.sha256,
    `HTTP ${after.status}, ${after.bytes} bytes`,
  );
  return {
    fileBytes: fillSlowJoin.size,
    aloneSeconds,
    withSlowSeconds,
    ratio: withSlowSeconds / aloneSeconds,
    slowClient: {
      targetBytesPerSecond: config.slowClientBytesPerSecond,
      status: slowStats.status,
      error: slowStats.error,
      bytesReceived: slowStats.bytes,
      seconds: round(slowStats.seconds, 3),
      bytesPerSecond: round(slowStats.bytes / slowStats.seconds, 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------

const fmt = (value, digits = 2) =>
  typeof value === 'number' && Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

function buildRows(out) {
  const rows = [];
  const add = (id, what, key, item, cells) => {
    if (!item || item.error) {
      rows.push({
        id,
        what,
        portcache: '–',
        reference: '–',
        result: 'error',
        value: null,
        ...limits(key),
        pass: false,
        targetMet: false,
        note: item?.error ?? 'not measured',
      });
      return;
    }
    const cellValues = cells();
    const { value, extraFail, note } = cellValues;
    const v = verdict(SPEC[key], value);
    rows.push({
      id,
      what,
      portcache: cellValues.portcache,
      reference: cellValues.reference,
      result: cellValues.result,
      value: round(value, 4),
      ...limits(key),
      pass: v.pass && !extraFail,
      targetMet: v.targetMet && !extraFail,
      ...(note ? { note } : {}),
    });
  };
  const limits = (key) => {
    const s = SPEC[key];
    const show = (x) =>
      x === undefined ? '–' : s.op === '==' ? `= ${x.toFixed(2)}` : `${s.op === '>=' ? '≥' : '≤'} ${x}`;
    return { must: show(s.must), target: show(s.target) };
  };
  const { hits, big, ttfb, flock, slowJoin, rss } = out.items;
  const c = out.config;

  add(
    '1',
    `Cached ${c.hitFileBytes / KiB} KiB files (${c.hitFiles}), wrk -t${c.wrkThreads} -c${c.wrkConnections}, ${c.wrkRuns} paired rounds of ${c.wrkSeconds} s, median of the rounds' ratios: req/s, portcache / nginx`,
    'hits',
    hits,
    () => ({
      portcache: fmt(hits.portcacheRequestsPerSecond, 0),
      reference: `${fmt(hits.nginxRequestsPerSecond, 0)} (nginx)`,
      result: fmt(hits.ratio, 3),
      value: hits.ratio,
      extraFail: hits.portcacheErrors > 0,
      note:
        hits.portcacheErrors > 0 ? `${hits.portcacheErrors} portcache errors/non-2xx responses` : undefined,
    }),
  );
  add(
    '2',
    `Cached ${c.bigFileBytes / MiB} MiB file, one stream (${big?.client ?? 'client: see JSON'}), median of ${c.bigRuns}: MB/s, portcache / nginx`,
    'big',
    big,
    () => ({
      portcache: fmt(big.portcacheMBps, 0),
      reference: `${fmt(big.nginxMBps, 0)} (nginx)`,
      result: fmt(big.ratio, 3),
      value: big.ratio,
    }),
  );
  add(
    '3',
    `Miss of a ${c.missFileBytes / MiB} MiB file, median over ${c.missFiles}: TTFB through portcache − TTFB direct from upstream (ms)`,
    'ttfb',
    ttfb,
    () => ({
      portcache: `${fmt(ttfb.portcacheTtfbMs)} ms`,
      reference: `${fmt(ttfb.directTtfbMs)} ms (upstream)`,
      result: `${fmt(ttfb.overheadMs)} ms`,
      value: ttfb.overheadMs,
    }),
  );
  add(
    '4a',
    `${c.flockClients} clients start together on one uncached ${c.flockFileBytes / MiB} MiB file: wall time / one direct download`,
    'flockWall',
    flock,
    () => ({
      portcache: `${fmt(flock.wallSeconds, 3)} s`,
      reference: `${fmt(flock.directSeconds, 3)} s (upstream)`,
      result: fmt(flock.ratio, 3),
      value: flock.ratio,
      extraFail: flock.failedClients.length > 0,
      note: flock.failedClients.length ? `${flock.failedClients.length} clients failed` : undefined,
    }),
  );
  add('4b', 'Same run: bytes the upstream served / file size', 'flockUpstream', flock, () => ({
    portcache: `${flock.upstreamBodyBytes.toLocaleString('en-US')} B in ${flock.upstreamRequests.length} request(s)`,
    reference: `${flock.fileBytes.toLocaleString('en-US')} B`,
    result: fmt(flock.upstreamRatio, 3),
    value: flock.upstreamRatio,
  }));
  add(
    '4c',
    'Same run: client bodies byte-identical to the source (SHA-256)',
    'flockIdentical',
    flock,
    () => ({
      portcache: `${flock.byteIdenticalClients} / ${flock.clients}`,
      reference: '–',
      result: `${flock.byteIdenticalClients} / ${flock.clients}`,
      value: flock.byteIdenticalClients / flock.clients,
    }),
  );
  add(
    '5',
    `Fill of an uncached ${c.flockFileBytes / MiB} MiB file with a ${c.slowClientBytesPerSecond / MB} MB/s client joined: fast client's time / alone`,
    'slowJoin',
    slowJoin,
    () => ({
      portcache: `${fmt(slowJoin.withSlowSeconds, 3)} s`,
      reference: `${fmt(slowJoin.aloneSeconds, 3)} s (alone)`,
      result: fmt(slowJoin.ratio, 3),
      value: slowJoin.ratio,
    }),
  );
  add(
    '6',
    'Peak RSS of portcache over the whole run: VmHWM, or the sampled VmRSS if higher (MB = 10⁶ B)',
    'rss',
    rss,
    () => ({
      portcache: `VmHWM ${fmt(rss.vmHwmMB, 1)} MB`,
      reference: `max sampled VmRSS ${fmt(rss.maxSampledVmRssMB, 1)} MB`,
      result: `${fmt(Math.max(rss.vmHwmMB, rss.maxSampledVmRssMB), 1)} MB`,
      // The kernel updates VmHWM lazily; a sample can be a little higher: judge by the larger.
      value: Math.max(rss.vmHwmMB, rss.maxSampledVmRssMB),
    }),
  );
  const { index } = out.items;
  const tree =
    index && !index.error ? `${index.entries} md5-cache entries, ${index.manifests} Manifests` : 'see JSON';
  add('7a', `Index build in a fresh process (${tree}), median of 3: seconds`, 'indexBuild', index, () => ({
    portcache: `${fmt(index.buildMs / 1000, 2)} s`,
    reference: `${index.distfiles.toLocaleString('en-US')} distfiles`,
    result: `${fmt(index.buildMs / 1000, 2)} s`,
    value: index.buildMs / 1000,
  }));
  add(
    '7b',
    'Index memory on top of the idle process: RSS after the build (MB = 10⁶ B)',
    'indexMemory',
    index,
    () => ({
      portcache: `RSS +${fmt((index.rssMiB * MiB) / MB, 1)} MB`,
      reference: `heap +${fmt((index.heapMiB * MiB) / MB, 1)} MB`,
      result: `${fmt((index.rssMiB * MiB) / MB, 1)} MB`,
      value: (index.rssMiB * MiB) / MB,
    }),
  );
  add('7c', 'Incremental refresh after touching one package: seconds', 'indexRefresh', index, () => ({
    portcache: `${fmt(index.refreshMs / 1000, 3)} s`,
    reference: `${index.refreshFilesRead} file(s) read`,
    result: `${fmt(index.refreshMs / 1000, 3)} s`,
    value: index.refreshMs / 1000,
    extraFail: !index.refreshFound,
  }));
  const { fastFill, fleet } = out.items;
  add(
    '8a',
    `Miss of a ${c.fastFillBytes / MiB} MiB file from an unthrottled upstream, median of ${c.fastFillRuns}: MB/s, portcache / nginx proxy_cache`,
    'fastFillNginx',
    fastFill,
    () => ({
      portcache: `${fmt(fastFill.portcacheMBps, 0)} MB/s`,
      reference: `${fmt(fastFill.nginxMBps, 0)} MB/s (nginx proxy_cache)`,
      result: fmt(fastFill.ratioToNginx, 3),
      value: fastFill.ratioToNginx,
      extraFail: !fastFill.allMisses,
      note: fastFill.allMisses ? undefined : 'not every run was a single full upstream fetch: see JSON',
    }),
  );
  add(
    '8b',
    'Same runs: MB/s, portcache / direct download from the upstream',
    'fastFillDirect',
    fastFill,
    () => ({
      portcache: `${fmt(fastFill.portcacheMBps, 0)} MB/s`,
      reference: `${fmt(fastFill.directMBps, 0)} MB/s (direct)`,
      result: fmt(fastFill.ratioToDirect, 3),
      value: fastFill.ratioToDirect,
    }),
  );
  const side = (s) =>
    `mean ${fmt(s.meanSeconds, 3)} s, p95 ${fmt(s.p95Seconds, 3)} s, wall ${fmt(s.wallSeconds, 1)} s` +
    (s.cpuSeconds ? `, server CPU ${fmt(s.cpuSeconds.server, 1)} s` : '');
  add(
    '9a',
    `Fleet replay: ${c.fleetClients} clients × ${c.fleetFiles} distfiles (${c.fleetMinBytes / KiB} KiB–${c.fleetMaxBytes / MiB} MiB), ⅔ uncached, 10 % resumed; ${c.fleetRounds} paired rounds in ABBA order, median of the rounds' ratios: mean time per download, portcache / nginx proxy_cache`,
    'fleetMean',
    fleet,
    () => ({
      portcache: `${side(fleet.portcache)} (round ${fleet.shownRound})`,
      reference: `${side(fleet.nginx)} (nginx proxy_cache); rounds: ${fleet.meanRatios.map((r) => fmt(r, 3)).join(', ')}`,
      result: fmt(fleet.meanRatio, 3),
      value: fleet.meanRatio,
    }),
  );
  add(
    '9b',
    'Same rounds: bytes the upstream served / bytes of the uncached files (the worst round)',
    'fleetUpstream',
    fleet,
    () => ({
      portcache: `${fleet.upstream.portcacheBytes.toLocaleString('en-US')} B in ${fleet.upstream.portcacheRequests} request(s)`,
      reference: `${fleet.upstream.nginxRatios.map((r) => fmt(r, 3)).join(', ')} (nginx proxy_cache), unique ${fleet.upstream.uniqueBytes.toLocaleString('en-US')} B`,
      result: fmt(fleet.upstream.portcacheWorstRatio, 3),
      value: fleet.upstream.portcacheWorstRatio,
    }),
  );
  add(
    '9c',
    'Same rounds: assembled bodies (resumes included) byte-identical to the source',
    'fleetRight',
    fleet,
    () => ({
      portcache: `${fleet.bodies.portcacheRight} / ${fleet.bodies.portcacheDownloads}`,
      reference: `${fleet.bodies.nginxRight} / ${fleet.bodies.nginxDownloads} (nginx proxy_cache)`,
      result: `${fleet.bodies.portcacheRight} / ${fleet.bodies.portcacheDownloads}`,
      value: fleet.bodies.portcacheRight / fleet.bodies.portcacheDownloads,
    }),
  );
  add(
    '9d',
    'Same rounds: peak RSS of portcache during its sides (sampled VmRSS, MB = 10⁶ B)',
    'fleetRss',
    fleet,
    () => ({
      portcache: `${fmt(fleet.peakSampledRssMB, 1)} MB`,
      reference: '–',
      result: `${fmt(fleet.peakSampledRssMB, 1)} MB`,
      value: fleet.peakSampledRssMB,
    }),
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------

main().then(
  (out) => {
    const table = renderTable(out.rows);
    const failedChecks = out.checks.filter((c) => !c.ok);
    process.stdout.write(`\n${table}\n`);
    if (failedChecks.length)
      process.stdout.write(`\nFailed checks: ${failedChecks.map((c) => c.what).join('; ')}\n`);
    if (out.portcache.exitedByItself) {
      process.stdout.write(
        `\nportcache EXITED during the run (${JSON.stringify(out.portcache.exitedByItself)}); its log tail is in the JSON.\n`,
      );
    }
    if (out.portcache.warningsAndErrors?.length) {
      process.stdout.write(
        `\nportcache logged ${out.portcache.warningsAndErrors.length} warning/error line(s); see "portcache" in the JSON.\n`,
      );
    }
    const json = `${JSON.stringify(out, null, 2)}\n`;
    process.stdout.write(`\n${json}`);
    if (config.writeDocs) {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      writeFileSync(join(ROOT, 'docs', 'benchmarks.json'), json);
      writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), renderDocs(out, table, PHASE_MS));
      log('wrote docs/benchmarks.md and docs/benchmarks.json');
    } else {
      log('docs/ left alone (BENCH_QUICK or BENCH_ITEMS run; BENCH_WRITE_DOCS=1 writes it anyway)');
    }
    log(`done in ${out.durationSeconds} s`);
  },
  (error) => {
    log(`benchmark aborted: ${error.stack ?? error}`);
    process.exitCode = 1;
  },
);
