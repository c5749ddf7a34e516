// The Markdown table and docs/benchmarks.md of scripts/bench.mjs.

const cell = (text) => {
  const flat = String(text ?? '–')
    .replace(/\s+/g, ' ')
    .replace(/\|/g, '\\|');
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
};

// A row without a must (or without a target) is judged by what it has; one with neither only informs.
function verdictText(row) {
  if (row.result === 'error') return 'FAIL';
  if (row.must === '–') return row.target === '–' ? '–' : row.targetMet ? 'target met' : 'target missed';
  if (!row.pass) return 'FAIL';
  if (row.target === '–') return 'PASS';
  return row.targetMet ? 'PASS (target met)' : 'PASS (target missed)';
}

export function renderTable(rows) {
  const lines = [
    '| # | Measurement | portcache | reference | Result | Must | Target | Verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const verdict = verdictText(row);
    const note = row.note ? ` (${row.note})` : '';
    lines.push(
      `| ${[
        row.id,
        row.what,
        row.portcache,
        row.reference,
        `${row.result}${note}`,
        row.must,
        row.target,
        verdict,
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const MiB = 1024 * 1024;

function machineLine(m) {
  return [
    `${m.nproc} CPU${m.nproc === 1 ? '' : 's'} (nproc)${m.cpu ? `, ${m.cpu}` : ''}`,
    `${m.memoryGiB} GiB RAM`,
    m.os,
    `Linux ${m.kernel}`,
    `Node ${m.node}`,
    m.nginx,
    m.wrk,
    m.curl?.split(' ').slice(0, 2).join(' '),
  ]
    .filter(Boolean)
    .join('; ');
}

export function renderDocs(out, table, phaseMs) {
  const c = out.config;
  const m = out.machine;
  const failedChecks = out.checks.filter((x) => !x.ok);
  const passedThrough = Object.entries(c.portcacheEnvPassedThrough ?? {});
  const notes = [];
  if (failedChecks.length) {
    notes.push(
      `**Failed checks:** ${failedChecks.map((x) => `${x.what}${x.detail ? ` (${x.detail})` : ''}`).join('; ')}.`,
    );
  }
  if (out.portcache.exitedByItself) {
    notes.push(
      `**portcache exited during the run** (${JSON.stringify(out.portcache.exitedByItself)}); ` +
        'its log tail is under `portcache.logTail` in benchmarks.json.',
    );
  }
  if (out.portcache.warningsAndErrors?.length) {
    notes.push(
      `portcache logged ${out.portcache.warningsAndErrors.length} warning/error line(s) during the run ` +
        '(listed under `portcache.warningsAndErrors` in benchmarks.json).',
    );
  }
  if (passedThrough.length) {
    notes.push(
      `portcache ran with ${passedThrough.map(([k, v]) => `\`${k}=${v}\``).join(', ')} from the environment; ` +
        'everything else at its defaults.',
    );
  }
  if (m.loadAverageAtStart) {
    notes.push(
      `Load average (1, 5, 15 min) when the run started: ${m.loadAverageAtStart.join(', ')}; at its end: ` +
        `${m.loadAverageAtEnd?.join(', ')}. CPU time used by processes other than the benchmark's own during ` +
        `the run: about ${Math.max(0, m.otherProcessesCpuSecondsDuringRun)} s (per item: \`items.*.cpu.otherProcessesCpuSeconds\` ` +
        'in benchmarks.json); other work on the machine skews every number.',
    );
  }
  if (m.git?.uncommittedFilesInSrc) {
    notes.push(
      `Measured on commit ${m.git.commit} with ${m.git.uncommittedFilesInSrc} uncommitted change(s) under src/.`,
    );
  } else if (m.git) notes.push(`Measured on commit ${m.git.commit}.`);

  return `# Benchmarks

Produced by \`npm run bench\` (\`scripts/bench.mjs\`) on ${out.date} (${out.durationSeconds} s).
The raw numbers of every run are in [benchmarks.json](benchmarks.json).

**Machine:** ${machineLine(m)}.

${table}

${notes.join('\n\n')}

What limits each number, from profiling: [performance-notes.md](performance-notes.md).

## Method

Everything runs on this one machine over 127.0.0.1: portcache (\`node dist/main.js\` with the node flags of \`npm start\`, after
\`npm run build\`, default settings, \`PORTCACHE_MIRRORS\` pointing at the upstream nginx below), a
reference nginx for items 1–2, a second nginx as the upstream mirror for items 3–5 and 8–9, and a
third nginx as the proxy_cache that items 8–9 compare with, all started by the script. Test files are random bytes written into a fresh \`portcache-bench-*\` directory under the
system temp dir (then \`sync\`); the directory and every child process are removed when the script
exits. One portcache process serves the whole run.

- **Items 1–2** read files placed by hand into portcache's cache directory (\`<dir>/<xx>/<name>\`,
  xx = BLAKE2b-512(name)[0:2]) before it started; measuring begins only after a HEAD of every one of
  them returns 200 (startup hashing done), and a sample of them plus the big file are first fetched
  and compared by SHA-256. The reference nginx serves the very same directory
  (\`worker_processes 1; sendfile on; tcp_nopush off; keepalive_requests 100000; access_log off;
  open_file_cache max=10000;\`, \`location /distfiles/ { alias <dir>/; }\`); both servers get the hashed
  path \`/distfiles/<xx>/<name>\`.
- **Item 1:** ${c.hitFiles} distinct ${c.hitFileBytes / 1024} KiB files; wrk -t${c.wrkThreads} -c${c.wrkConnections} with a
  Lua script cycling through all names (each thread from a different start); a ${c.wrkWarmupSeconds} s warm-up
  against each server, then ${c.wrkRuns} rounds of one ${c.wrkSeconds} s run per server back to back (which server
  goes first alternates); the result is the median of the rounds' ratios of Requests/sec (the req/s columns show
  each server's median). Each ratio compares two runs made within seconds of each other: this machine's
  neighbours slow it for tens of seconds at a time, and the ratio of two medians taken minutes apart
  swung between 0.31 and 0.47 over the same code (\`ratioOfMedians\` in the JSON keeps that figure). Any
  non-2xx response or socket error from portcache fails the row.
- **Item 2:** one ${c.bigFileBytes / MiB} MiB file over one connection at a time. The client is whichever of
  curl (\`-o /dev/null\`) and a minimal Node client (raw socket, one reused 1 MiB read buffer, body
  counted and discarded) is faster against nginx in two calibration runs each; then ${c.bigRuns} alternating
  downloads per server. MB/s = 10⁶ bytes per second over the whole request; medians compared.
- **Items 3–5** go through the upstream nginx (\`sendfile on; sendfile_max_chunk ${c.upstreamMaxChunk};
  limit_rate ${c.upstreamRate};\`, flat \`layout.conf\`, an access log with \`$body_bytes_sent\` and
  \`$request_time\`). Every body is SHA-256'd while streaming and compared with the hash taken when
  the file was written. nginx's \`limit_rate\` grants up to one second's worth of bytes ahead,
  depending on where in a wall-clock second a response starts, so every timed big transfer of items
  4–5 (direct and through portcache) starts ${phaseMs} ms past a whole second; otherwise their times differ by
  up to a second for that reason alone.
- **Item 3:** Node \`http.get\`, a fresh connection per request, \`performance.now()\` just before the
  request and at the first body byte. One warm-up miss (it also fetches the mirror's layout.conf) is
  not counted. Then, for each of ${c.missFiles} pairs of distinct ${c.missFileBytes / MiB} MiB files, one file is fetched
  directly from the upstream and its twin (same size, never requested before) through portcache,
  both read to the end, the side that goes first alternating. After each miss the script waits until
  portcache has committed the file (\`portcache_fills_total{result="committed"}\` on /metrics) and
  50 ms more, so that the fsyncs of a commit do not land in the next measurement. Result: the median
  of the per-pair differences (the medians of each side are shown too).
- **Item 4:** one direct download of the ${c.flockFileBytes / MiB} MiB file from the upstream (tagged \`?direct=1\` so
  the access log tells it apart); then ${c.flockClients} clients through portcache start at the same instant,
  spread over ${c.clientThreads} worker threads (raw-socket clients as in item 2, with SHA-256) so that the
  clients' hashing can use every core. Wall time runs until the last of them has the whole body.
  Upstream bytes: \`$body_bytes_sent\` of every untagged upstream request for the file
  (portcache's \`portcache_upstream_bytes_total\` is recorded as a cross-check).
- **Item 5:** one fast client (Node \`http.get\`) fetches an uncached ${c.flockFileBytes / MiB} MiB file alone; then a
  fast client starts on another such file and, 100 ms later, a client reading ${c.slowClientBytesPerSecond / 1e6} MB/s joins
  (it pauses the response, so TCP back-pressure reaches portcache). The fill time is the fast client's
  time; the slow client is dropped when the fast one finishes, and the file is fetched once more to
  check that it was committed whole.
- **Item 6:** VmHWM from \`/proc/<pid>/status\` of the portcache process at the end of the run (items 8–9
  run in the same process before it; 7 does not); VmRSS is also sampled every ${c.rssSampleMs} ms as a
  cross-check (benchmarks.json has the peak per item, and per side of item 9). The
  kernel updates VmHWM lazily, so the row judges the larger of the two.
- **Item 7** (\`scripts/bench/index-bench.mjs\`, after portcache has stopped): a ::gentoo-sized
  synthetic tree (33 renamed copies of the GURU fixture plus gentoo-mini, with a
  \`metadata/timestamp.chk\`) is written and \`sync\`'ed; then 3 fresh \`node --expose-gc\` processes with the
  node flags of \`npm start\` each build the index over it (files in the page cache), record RSS and heap after two forced GCs minus
  those of the idle process, touch one md5-cache entry (renamed into place) and refresh. Medians.
- **The nginx proxy_cache of items 8–9** (\`scripts/bench/proxy-cache-nginx.mjs\`): nginx's defaults
  (one worker, default proxy buffering) plus \`sendfile on;\`, one cache zone
  (\`proxy_cache_path <dir> levels=1:2 keys_zone=bench:16m;\`), \`proxy_cache_valid 200 1d;\` (a
  static nginx upstream sends no caching headers) and \`proxy_cache_lock on;\` (lock timeout at its
  default of 5 s), \`proxy_pass\` to the upstream nginx. It answers the resumes of item 9 with 206
  from its cache without \`proxy_force_ranges\` (\`resumesAnswered200\` in benchmarks.json).
- **Item 8** (\`scripts/bench/fast-fill.mjs\`): the upstream nginx serves the files of this item
  (\`fastfill-*\`) without its rate limit (\`location ^~ /distfiles/fastfill- { limit_rate 0; }\`,
  sendfile settings as above). One ${c.fastFillBytes / MiB} MiB file is written to it under ${2 * c.fastFillRuns + 1} names (hard
  links): one for every direct download, and a fresh one per run for each cache, so that every
  cache run is a miss (checked: the upstream logged exactly one full-size request per cache name,
  and nginx logged MISS). A 1 MiB miss through each cache first is not counted. Then ${c.fastFillRuns} runs, each of them a
  direct download, one through the nginx proxy_cache and one through portcache, in rotated order
  (each side goes first once in three runs). The client is the raw-socket client of item 2, which
  copies the body into one pre-faulted buffer; the SHA-256 of that buffer is compared with the
  source's after the clock stopped (SHA-256 while receiving halved the direct download's speed on
  this machine). MB/s = 10⁶ bytes per second from the request to the last body byte; medians
  compared. After each cache run the script waits until the file is on disk, so that neither
  cache's write-back lands in the next run: portcache counts a commit on /metrics after fsyncing
  it; nginx renames its temp file into the cache directory without an fsync, so the script fsyncs
  that file. Nothing forks between runs (after a fork every page of the body buffer faults again
  on its next write, which cut the client to ~130 MB/s on this VM).
- **Item 9** (\`scripts/bench/fleet.mjs\`, \`fleet-worker.mjs\`): a plan from a seeded PRNG (mulberry32,
  seed ${c.fleetSeed}): ${c.fleetFiles} file sizes log-uniform in ${c.fleetMinBytes / 1024} KiB–${c.fleetMaxBytes / MiB} MiB
  (${out.items.fleet?.fileBytes ? `${(out.items.fleet.fileBytes.total / MiB).toFixed(0)} MiB in all` : 'total in benchmarks.json'}), a third of them cached at
  the start, and for each of ${c.fleetClients} clients its own random order of all ${c.fleetFiles} files, with exactly
  10 % of its downloads to be interrupted at a uniformly random byte of the body. The plan runs in
  ${c.fleetRounds} paired rounds; in each, each side gets its own file names with the same sizes
  (\`fleet-pc<round>-*\`, \`fleet-ng<round>-*\`; later rounds' names are hard links to round 1's files)
  on the rate-limited upstream (\`limit_rate ${c.upstreamRate}\` per connection), so that no side and no
  round warms another. portcache's cached third of every round is also placed in its cache directory
  before it starts, as in items 1–2 (measuring waits for their adoption); nginx's cached third is
  fetched through it once (10 at a time) and waited for in its cache directory before its side. Then the ${c.fleetClients} clients start at the same instant, spread over
  ${c.clientThreads} worker threads; each downloads its files one after another (${c.fleetClients} downloads in flight),
  a fresh connection per request (raw-socket client). An interrupted download drops its connection
  at its byte and asks again with \`Range: bytes=<have>-\`, appending what comes: a 206 must carry
  \`Content-Range: bytes <have>-…/<size>\`, a 200 starts the body over (\`wget -c\`). Every body is
  compared byte for byte, as it streams in, with the file written (from the file's first MiB and
  the block numbers the generator writes into each further MiB): SHA-256 in the clients made them
  use ~4× portcache's CPU and set the pace of both sides. Time per download: from its first request
  to its last body byte, the resume included; mean and p95 (nearest rank) over all
  ${c.fleetClients * c.fleetFiles} downloads; wall time from the start to the last byte. Upstream bytes:
  \`$body_bytes_sent\` of every upstream request for the side's files logged after its start (nginx's
  warm-up excluded) over the sizes of the uncached files. Peak RSS: the largest VmRSS sample of
  portcache during its sides. The rounds run in ABBA order: portcache's side first in rounds 1
  and 4, nginx's in rounds 2 and 3 (the side that runs first often does better on this host;
  performance-notes); \`sync\` before each side, and portcache's fills committed before the next
  side starts. 9a is the median of the rounds' ratios (each round's in benchmarks.json,
  \`items.fleet.rounds\`), its row shows the sides of the round nearest to it; 9b is the worst
  round's, 9c counts the bodies of every round, 9d is the highest peak. One paired run decides
  little: 9a ranged 0.72–1.20 over the rounds of one run of the same code on this host. nginx's HIT/MISS counts are in benchmarks.json, and so is
  each side's mean by kind of download (\`byKind\`: the first request of an uncached file, later
  requests of it, files cached at the start; each by size band). Server
  CPU: user + system seconds of the side's server during its side (portcache's process; the proxy
  nginx's master and workers), from /proc; the upstream nginx's, portcache's main thread's share,
  and the machine's busy seconds during the side (/proc/stat: clients, servers, softirqs and the
  kernel's write-back) are in benchmarks.json (\`cpuSeconds\`). Both sides keep the two cores busy, and the clients use most of
  them: a side's mean time per download follows the CPU the whole machine spends on it
  (performance-notes).

benchmarks.json also records, per item, the CPU seconds portcache and the benchmark script used, and
all raw samples.

\`BENCH_QUICK=1 npm run bench\` is a short version for iterating (smaller files, 1 run of 3 s) that
does not write docs/. Single knobs: \`BENCH_HIT_FILES\`, \`BENCH_HIT_KIB\`, \`BENCH_WRK_THREADS\`,
\`BENCH_WRK_CONNECTIONS\`, \`BENCH_WRK_SECONDS\`, \`BENCH_WRK_RUNS\`, \`BENCH_WRK_WARMUP_SECONDS\`,
\`BENCH_BIG_MIB\`, \`BENCH_BIG_RUNS\`, \`BENCH_MISS_MIB\`, \`BENCH_MISS_FILES\`, \`BENCH_UPSTREAM_RATE\`,
\`BENCH_UPSTREAM_MAX_CHUNK\`, \`BENCH_FLOCK_MIB\`, \`BENCH_FLOCK_CLIENTS\`, \`BENCH_SLOW_RATE\` (bytes/s),
\`BENCH_CLIENT_THREADS\`, \`BENCH_FAST_MIB\`, \`BENCH_FAST_RUNS\`, \`BENCH_FLEET_CLIENTS\`, \`BENCH_FLEET_FILES\`,
\`BENCH_FLEET_MIN_KIB\`, \`BENCH_FLEET_MAX_MIB\`, \`BENCH_FLEET_SEED\`, \`BENCH_FLEET_ROUNDS\`, \`BENCH_ITEMS\` (e.g. \`3,4\`: run only those items), \`BENCH_TIMEOUT_MIN\`,
\`BENCH_SKIP_BUILD=1\`, \`BENCH_WRITE_DOCS=0|1\`, \`BENCH_KEEP=1\` (keep the scratch
directory and its logs). \`PORTCACHE_*\` variables in the environment are passed to portcache, except
host, port, cache directory and mirrors, which the script sets. nginx-light and wrk are installed with
apt-get when missing. The exit status is 0 even when a limit is missed; it is non-zero only when the
benchmark itself could not run.
`;
}
