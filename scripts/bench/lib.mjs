// Helpers for scripts/bench.mjs: child processes (always cleaned up), HTTP clients that time
// and hash what they receive, test-file generation, nginx configs and small statistics.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes. Every child is spawned detached (its own process group) and remembered, so
// that both the orderly shutdown and the synchronous 'exit' handler can kill the whole group
// (an nginx master and its worker, a curl, a wrk) by the id we got when starting it.

const live = new Set();

/** Kills every child still running (SIGKILL to its process group). Safe in an 'exit' handler. */
export function killAllChildrenSync() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
}

function track(child) {
  live.add(child);
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  return exited;
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {}
}

/** A long-running child whose stdout and stderr go to `logPath`. */
export function startDaemon(name, command, args, { logPath, env = process.env, cwd } = {}) {
  const fd = openSync(logPath, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env, cwd });
  closeSync(fd);
  const exited = track(child);
  let exitInfo;
  exited.then((info) => {
    exitInfo = info;
  });
  return {
    name,
    child,
    pid: child.pid,
    logPath,
    exited,
    get running() {
      return exitInfo === undefined;
    },
    get exitInfo() {
      return exitInfo;
    },
    readLog: () => readFileSync(logPath, 'utf8'),
    /** SIGTERM (or `signal`) to the group, then SIGKILL if it is still there after `graceMs`. */
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (exitInfo !== undefined) return exitInfo;
      killGroup(child, signal);
      const done = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
      if (done) return done;
      killGroup(child, 'SIGKILL');
      return Promise.race([exited, sleep(2000).then(() => ({ code: null, signal: 'SIGKILL' }))]);
    },
  };
}

/** Runs a command to completion (killed after `timeoutMs`), collecting its output. */
export async function run(command, args, { timeoutMs = 60_000, env = process.env, cwd } = {}) {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
  const exited = track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, timeoutMs);
  const { code, signal, error } = await exited;
  clearTimeout(timer);
  if (error) throw new Error(`${command}: ${error.message}`);
  if (timedOut) throw new Error(`${command} ${args.join(' ')}: killed after ${timeoutMs} ms`);
  return { code, signal, stdout, stderr };
}

/** First line of a quick synchronous command's output (stdout, else stderr), or undefined. */
export function firstLine(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return undefined;
  return `${result.stdout || ''}${result.stderr || ''}`.split('\n')[0].trim() || undefined;
}

export function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (all held open until all are found). */
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

/** Polls `check` (async, truthy when done) every `intervalMs` until `timeoutMs`; throws `what` then. */
export async function waitUntil(what, check, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = performance.now() + timeoutMs;
  let lastError;
  while (performance.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError.message})` : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------
// HTTP clients. Each uses a fresh connection (agent: false) and timestamps with performance.now().

/**
 * One request, body read to the end and discarded (optionally SHA-256'd while streaming).
 * Resolves with status, headers, byte count and times: start (before the request was issued),
 * headers, firstByte (first body byte), end. Rejects on a connection error, a body shorter than
 * its Content-Length, or after `timeoutMs`.
 */
export function download(url, { method = 'GET', hash = false, timeoutMs = 300_000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const sha = hash ? createHash('sha256') : undefined;
    const times = { start: performance.now(), headers: undefined, firstByte: undefined, end: undefined };
    let bytes = 0;
    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(value);
    };
    const timer = setTimeout(
      () => finish(new Error(`${method} ${url}: not complete after ${timeoutMs} ms (${bytes} bytes)`)),
      timeoutMs,
    );
    const req = http.request(url, { method, agent: false, headers }, (res) => {
      times.headers = performance.now();
      res.on('data', (chunk) => {
        if (times.firstByte === undefined) times.firstByte = performance.now();
        bytes += chunk.length;
        sha?.update(chunk);
      });
      res.on('end', () => {
        times.end = performance.now();
        const expected = res.headers['content-length'];
        if (!res.complete || (expected !== undefined && Number(expected) !== bytes && method !== 'HEAD')) {
          finish(
            new Error(
              `${method} ${url}: HTTP ${res.statusCode}, body ended after ${bytes} of ${expected ?? '?'} bytes`,
            ),
          );
          return;
        }
        finish(undefined, {
          status: res.statusCode,
          headers: res.headers,
          bytes,
          sha256: sha?.digest('hex'),
          ...times,
        });
      });
      res.on('error', (error) =>
        finish(new Error(`${method} ${url}: response broke after ${bytes} bytes: ${error.message}`)),
      );
      res.on('close', () => {
        if (times.end === undefined)
          finish(new Error(`${method} ${url}: connection closed after ${bytes} body bytes`));
      });
    });
    req.on('error', (error) => finish(new Error(`${method} ${url}: ${error.message}`)));
    req.end();
  });
}

/**
 * A client that reads at most `bytesPerSecond` (pausing the response between chunks, so TCP
 * back-pressure reaches the server). `stop()` drops the connection and returns what it got.
 */
export function throttledClient(url, bytesPerSecond) {
  const state = { bytes: 0, status: undefined, error: undefined, start: performance.now(), end: undefined };
  let timer;
  let res;
  const req = http.get(url, { agent: false }, (response) => {
    res = response;
    state.status = response.statusCode;
    response.on('data', (chunk) => {
      state.bytes += chunk.length;
      const due = state.start + (state.bytes / bytesPerSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 1) {
        response.pause();
        timer = setTimeout(() => response.resume(), wait);
      }
    });
    response.on('end', () => {
      state.end = performance.now();
    });
    response.on('error', (error) => {
      state.error ??= error.message;
    });
  });
  req.on('error', (error) => {
    state.error ??= error.message;
  });
  return {
    state,
    stop() {
      clearTimeout(timer);
      const stoppedAt = performance.now();
      res?.destroy();
      req.destroy();
      return { ...state, stoppedAt, seconds: (stoppedAt - state.start) / 1000 };
    },
  };
}

/** A keep-alive HEAD, for polling many files quickly. Resolves with the status code. */
export function head(url, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'HEAD', agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('HEAD timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Sum of the samples of a Prometheus counter on portcache's /metrics whose labels contain `labelPart`. */
export async function portcacheCounter(pcPort, name, labelPart = '') {
  const text = await new Promise((resolve, reject) => {
    const req = http.get(`http://127.0.0.1:${pcPort}/metrics`, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
  });
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? ([\\d.e+]+)$`, 'gm'))) {
    if ((m[1] ?? '').includes(labelPart)) total += Number(m[2]);
  }
  return total;
}

/**
 * Wraps `fetch(file)` of a miss through portcache so that it returns only once portcache has
 * committed the file (`portcache_fills_total{result="committed"}` one higher than before it):
 * a client has all bytes before the commit's fsyncs, which must not land in the next measurement.
 */
export async function untilCommitted(pcPort, fetch, timeoutMs) {
  const committed = () => portcacheCounter(pcPort, 'portcache_fills_total', 'result="committed"');
  let expected = (await committed()) + 1;
  return async (file) => {
    const r = await fetch(file);
    const want = expected++;
    await waitUntil(`portcache to commit ${file.name}`, async () => (await committed()) >= want, {
      timeoutMs,
      intervalMs: 20,
    });
    return r;
  };
}

// ---------------------------------------------------------------------------------------------
// Test files.

/** BLAKE2b-512(name)[0:2]: the GLEP 75 directory portcache keeps `name` in. */
export function blake2bPrefix(name) {
  return createHash('blake2b512').update(name, 'utf8').digest('hex').slice(0, 2);
}

/**
 * Writes `size` bytes of incompressible data to `path` and returns their SHA-256. Files above
 * 1 MiB repeat one random 1 MiB block whose first 8 bytes carry the block number, so no two
 * blocks (and, with a fresh block per file, no two files) are equal.
 */
export function writeTestFile(path, size) {
  const block = Buffer.allocUnsafe(Math.min(size, MiB));
  randomFillSync(block);
  const sha = createHash('sha256');
  const fd = openSync(path, 'w', 0o644);
  try {
    for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
      const length = Math.min(block.length, size - offset);
      if (length >= 8) block.writeBigUInt64LE(BigInt(n), 0);
      const view = block.subarray(0, length);
      for (let done = 0; done < length; ) done += writeSync(fd, view, done, length - done, offset + done);
      sha.update(view);
    }
  } finally {
    closeSync(fd);
  }
  return sha.digest('hex');
}

/**
 * Whether `chunk` is bytes [offset, offset + chunk.length) of a `size`-byte file that
 * writeTestFile wrote, given the file's first block `first` (its first min(size, 1 MiB) bytes):
 * a byte-for-byte comparison that costs a memcmp, where SHA-256 costs ~10× more CPU.
 */
export function matchesTestFile(first, size, offset, chunk) {
  const blockSize = first.length;
  const header = Buffer.alloc(8);
  for (let i = 0, p = offset; i < chunk.length; ) {
    const k = Math.floor(p / blockSize);
    const within = p - k * blockSize;
    const n = Math.min(chunk.length - i, blockSize - within);
    let h = 0;
    if (k > 0 && within < 8) {
      // Block k starts with k; a last block shorter than 8 bytes keeps the previous block's number.
      header.writeBigUInt64LE(BigInt(size - k * blockSize >= 8 ? k : k - 1));
      h = Math.min(8 - within, n);
      if (header.compare(chunk, i, i + h, within, within + h) !== 0) return false;
    }
    if (first.compare(chunk, i + h, i + n, within + h, within + n) !== 0) return false;
    i += n;
    p += n;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// nginx.

const q = (path) => JSON.stringify(path);

/** Top of an nginx.conf that keeps every path nginx writes inside `dir`. */
export function nginxPreamble(dir) {
  return `worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${q(`${dir}/nginx.pid`)};
error_log ${q(`${dir}/error.log`)} warn;
events { worker_connections 4096; }
`;
}

export function tempPaths(dir) {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${q(`${dir}/${kind}_temp`)};`)
    .join('\n');
}

/** The reference server of items 1-2 (config from the issue): /distfiles/<xx>/<name> → <cacheDir>/<xx>/<name>. */
export function referenceNginxConf({ dir, port, cacheDir }) {
  return `${nginxPreamble(dir)}
http {
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush off;
  keepalive_requests 100000;
  access_log off;
  open_file_cache max=10000;
${tempPaths(dir)}
  server {
    listen 127.0.0.1:${port};
    location /distfiles/ { alias ${q(`${cacheDir}/`)}; }
  }
}
`;
}

/**
 * The rate-limited upstream mirror of items 3-5 and 9: flat layout under <root>/distfiles/, access
 * log with byte counts. Files whose names start with `unthrottledPrefix` (item 8) are served
 * without the rate limit, like a mirror on the LAN.
 */
export function upstreamNginxConf({ dir, port, root, rate, maxChunk, unthrottledPrefix = 'fastfill-' }) {
  return `${nginxPreamble(dir)}
http {
  default_type application/octet-stream;
  sendfile on;
  sendfile_max_chunk ${maxChunk};
  limit_rate ${rate};
  keepalive_requests 100000;
  log_format bench '$msec $request_time "$request" $status $body_bytes_sent $bytes_sent "$http_range" "$http_user_agent"';
  access_log ${q(`${dir}/access.log`)} bench;
${tempPaths(dir)}
  server {
    listen 127.0.0.1:${port};
    root ${q(root)};
    location ^~ /distfiles/${unthrottledPrefix} { limit_rate 0; }
  }
}
`;
}

/** Parses the upstream access log written with the `bench` log_format. */
export function parseAccessLog(text) {
  const entries = [];
  const pattern = /^(\S+) (\S+) "(\S+) (\S+)[^"]*" (\d+) (\d+) (\d+) "([^"]*)" "([^"]*)"$/;
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (!m) continue;
    entries.push({
      msec: Number(m[1]),
      seconds: Number(m[2]),
      method: m[3],
      uri: m[4],
      status: Number(m[5]),
      bodyBytes: Number(m[6]),
      bytesSent: Number(m[7]),
      range: m[8] === '-' ? undefined : m[8],
      userAgent: m[9],
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/**
 * The environment (leading NAME=value words) and node flags of `npm start` in `root`'s
 * package.json, so that what is measured is what an admin runs.
 */
export function startCommandOf(root) {
  const words = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
  return {
    env: Object.fromEntries(
      words.filter((word) => /^[A-Z_][A-Z0-9_]*=/.test(word)).map((word) => word.split(/=(.*)/s).slice(0, 2)),
    ),
    flags: words.filter((word) => word.startsWith('--')),
  };
}

export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value, digits = 3) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Parses wrk's summary. */
export function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx3xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
    socketErrors: socket
      ? { connect: +socket[1], read: +socket[2], write: +socket[3], timeout: +socket[4] }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    transferPerSecond: /Transfer\/sec:\s+(\S+)/.exec(text)?.[1],
  };
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; with
 * `withReapedChildren`, plus those of the children it has waited for.
 */
export function cpuSecondsOf(pid, withReapedChildren = false) {
  return cpuSecondsIn(`/proc/${pid}/stat`, withReapedChildren);
}

/** CPU seconds (user + system) of the main thread of `pid` (its other threads come and go). */
export function mainThreadCpuSecondsOf(pid) {
  return cpuSecondsIn(`/proc/${pid}/task/${pid}/stat`, false);
}

/** From a stat file of /proc (a process's or one thread's: the same fields). */
function cpuSecondsIn(statPath, withReapedChildren) {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15, in clock ticks.
    clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
    const children = withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    return (Number(fields[11]) + Number(fields[12]) + children) / clockTicks;
  } catch {
    return undefined;
  }
}

let clockTicks;

/** VmHWM and VmRSS of a process, in bytes (undefined once it is gone). */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

/**
 * The cheapest HTTP/1.1 GET Node can do, so that the client is not what limits a measurement:
 * a raw socket read into one reused 1 MiB buffer, body bytes counted (and optionally SHA-256'd)
 * up to Content-Length, nothing else allocated per chunk. Resolves with status, the header block
 * (`head`, latin1), bytes, sha256 and the times start, firstByte (first body byte) and end
 * (performance.now()).
 *
 * `headers` are added to the request (e.g. Range). `onHeaders(status, head)` runs once the
 * header block is in, `onBody(chunk)` for every body chunk (a view into the reused buffer: copy
 * what you keep). `stopAfter` drops the connection once that many body bytes have arrived, like a
 * download that is interrupted; the result then has `stopped: true` and exactly `stopAfter` bytes
 * (the chunk that crosses the limit is cut there). `readBuffer` replaces the fresh 1 MiB read
 * buffer, for clients that make many requests one after another.
 */
export function rawGet(
  url,
  {
    hash = false,
    timeoutMs = 600_000,
    headers = {},
    onHeaders,
    onBody: consume,
    stopAfter,
    readBuffer = Buffer.allocUnsafe(MiB),
  } = {},
) {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const sha = hash ? createHash('sha256') : undefined;
    const start = performance.now();
    let firstByte;
    let header = Buffer.alloc(0);
    let head;
    let status;
    let length;
    let bytes = 0;
    let stopped = false;
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else
        resolve({
          status,
          head,
          bytes,
          stopped,
          sha256: sha?.digest('hex'),
          start,
          firstByte,
          end: performance.now(),
        });
    };
    const timer = setTimeout(
      () => finish(new Error(`GET ${url}: not complete after ${timeoutMs} ms (${bytes} body bytes)`)),
      timeoutMs,
    );
    const onBody = (received) => {
      if (received.length === 0) return;
      firstByte ??= performance.now();
      const chunk =
        stopAfter !== undefined && bytes + received.length > stopAfter
          ? received.subarray(0, stopAfter - bytes)
          : received;
      bytes += chunk.length;
      sha?.update(chunk);
      consume?.(chunk);
      if (bytes >= length) {
        finish(bytes === length ? undefined : new Error(`GET ${url}: more than Content-Length ${length}`));
      } else if (stopAfter !== undefined && bytes >= stopAfter) {
        stopped = true;
        finish();
      }
    };
    const socket = net.connect({
      host: hostname,
      port: Number(port),
      onread: {
        buffer: readBuffer,
        callback: (n, buf) => {
          if (settled) return false;
          if (header === undefined) {
            onBody(buf.subarray(0, n));
            return;
          }
          header = Buffer.concat([header, buf.subarray(0, n)]);
          const end = header.indexOf('\r\n\r\n');
          if (end < 0) {
            if (header.length > 64 * KiB) finish(new Error(`GET ${url}: no end of headers`));
            return;
          }
          head = header.subarray(0, end).toString('latin1');
          status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
          length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1]);
          const rest = header.subarray(end + 4);
          header = undefined;
          if (!Number.isFinite(length)) {
            finish(new Error(`GET ${url}: HTTP ${status} without Content-Length`));
            return;
          }
          try {
            onHeaders?.(status, head);
          } catch (error) {
            finish(error);
            return;
          }
          if (length === 0) finish();
          else onBody(rest);
        },
      },
    });
    const extra = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.on('connect', () =>
      socket.write(
        `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${extra}Connection: close\r\n\r\n`,
      ),
    );
    socket.on('error', (error) =>
      finish(new Error(`GET ${url}: ${error.message} after ${bytes} body bytes`)),
    );
    socket.on('end', () =>
      finish(
        new Error(`GET ${url}: HTTP ${status}, connection closed after ${bytes} of ${length} body bytes`),
      ),
    );
  });
}

/** Milliseconds from `epochMs` until the wall clock is `phaseMs` past a whole second. */
export function msUntilPhase(phaseMs, epochMs = Date.now()) {
  return (phaseMs - (Math.floor(epochMs) % 1000) + 1000) % 1000;
}

/**
 * Waits until the wall clock is `phaseMs` past a whole second. nginx's limit_rate lets a
 * response run ahead by up to one second's worth, depending on where in its start second it
 * began (it counts whole seconds since the start second, plus one); transfers that start at the
 * same phase get the same head start, so their times compare.
 */
export function alignToSecond(phaseMs) {
  return sleep(msUntilPhase(phaseMs));
}

/**
 * `urls.length` clients that start at the same moment, spread over `threads` worker threads.
 * Resolves with one result per URL (times in epoch milliseconds) and the agreed start time,
 * `phaseMs` past a whole second if given (see alignToSecond).
 */
export async function simultaneousClients(urls, { threads, hash = false, timeoutMs = 600_000, phaseMs }) {
  const soon = performance.timeOrigin + performance.now() + 300;
  const startAtEpochMs = phaseMs === undefined ? soon : soon + msUntilPhase(phaseMs, soon);
  const shares = Array.from({ length: Math.min(threads, urls.length) }, () => []);
  for (const [i, url] of urls.entries()) shares[i % shares.length].push(url);
  const results = await Promise.all(
    shares.map((share) =>
      runWorker(new URL('./clients-worker.mjs', import.meta.url), {
        urls: share,
        hash,
        timeoutMs,
        startAtEpochMs,
      }),
    ),
  );
  return { startAtEpochMs, results: results.flat() };
}

/** Runs a client worker thread to its end; resolves to the one message it posts. */
export function runWorker(url, workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { workerData });
    let result;
    worker.once('message', (message) => {
      result = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`${url.pathname} exited with ${code} and no result`)),
    );
  });
}

/** CPU seconds all CPUs spent busy since boot (user, nice, system, irq, softirq, steal), from /proc/stat. */
export function systemBusySeconds() {
  try {
    const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .map(Number);
    clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
    return (user + nice + system + irq + softirq + (steal || 0)) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used by this process, its reaped children (curl, wrk, finished servers) and the
 * still-running processes `pids` with their own children (nginx workers).
 */
export function ownCpuSeconds(pids) {
  return (cpuSecondsOf(process.pid, true) ?? 0) + treeCpuSecondsOf(pids);
}

/** CPU seconds used so far by the running processes `pids` and their children (an nginx master and its workers). */
export function treeCpuSecondsOf(pids) {
  const live = new Set(pids.filter(Boolean));
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (pids.includes(ppid)) live.add(Number(entry));
      } catch {}
    }
  } catch {}
  let total = 0;
  for (const pid of live) total += cpuSecondsOf(pid) ?? 0;
  return total;
}
