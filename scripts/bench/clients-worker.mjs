// A worker thread of scripts/bench.mjs: starts its share of simultaneous clients at an agreed
// moment and reports what each got. Several of these spread the clients' HTTP parsing and
// SHA-256 over the cores, so that the clients are not what limits a many-client measurement.
import { parentPort, workerData } from 'node:worker_threads';
import { rawGet, sleep } from './lib.mjs';

const { urls, hash, timeoutMs, startAtEpochMs } = workerData;
const toEpoch = (t) => (t === undefined ? undefined : performance.timeOrigin + t);

const wait = startAtEpochMs - (performance.timeOrigin + performance.now());
if (wait > 0) await sleep(wait);
const settled = await Promise.allSettled(urls.map((url) => rawGet(url, { hash, timeoutMs })));
parentPort.postMessage(
  settled.map((s) =>
    s.status === 'fulfilled'
      ? {
          ok: true,
          status: s.value.status,
          bytes: s.value.bytes,
          sha256: s.value.sha256,
          start: toEpoch(s.value.start),
          firstByte: toEpoch(s.value.firstByte),
          end: toEpoch(s.value.end),
        }
      : { ok: false, error: String(s.reason?.message ?? s.reason) },
  ),
);
