// A worker thread of item 9 (scripts/bench/fleet.mjs): runs its share of the fleet's clients,
// each downloading its list of files one after another, from an agreed moment on. A download
// marked with `abortAt` is dropped after that many body bytes and resumed the way `wget -c` does
// (Range: bytes=<have>-, appending to what it has; a 200 instead of a 206 starts over). Bodies
// are SHA-256'd incrementally and compared with the hash taken when the file was written.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { rawGet, sleep } from './lib.mjs';

const { base, clients, startAtEpochMs, timeoutMs } = workerData;
const toEpoch = (t) => performance.timeOrigin + t;

async function fetchOne(file) {
  const url = `${base}/${file.name}`;
  const statuses = [];
  let sha = createHash('sha256');
  let restarted = false;
  const first = await rawGet(url, {
    timeoutMs,
    stopAfter: file.abortAt,
    onBody: (chunk) => sha.update(chunk),
  });
  statuses.push(first.status);
  if (first.status !== 200) throw new Error(`GET ${url}: HTTP ${first.status}`);
  let have = first.bytes;
  if (first.stopped) {
    const resumed = await rawGet(url, {
      timeoutMs,
      headers: { Range: `bytes=${have}-` },
      onHeaders: (status, head) => {
        statuses.push(status);
        if (status === 200) {
          sha = createHash('sha256');
          have = 0;
          restarted = true;
          return;
        }
        const range = /\r\ncontent-range:\s*bytes (\d+)-(\d+)\/(\d+)/i.exec(head);
        if (status !== 206 || !range || Number(range[1]) !== have || Number(range[3]) !== file.size) {
          throw new Error(
            `GET ${url} from byte ${have}: HTTP ${status}, ${range?.[0].trim() ?? 'no Content-Range'}`,
          );
        }
      },
      onBody: (chunk) => sha.update(chunk),
    });
    have += resumed.bytes;
  }
  const right = have === file.size && sha.digest('hex') === file.sha256;
  return {
    end: toEpoch(performance.now()),
    ok: true,
    right,
    statuses,
    restarted,
    ...(right ? {} : { error: `GET ${url}: ${have} of ${file.size} bytes or wrong SHA-256` }),
  };
}

const wait = startAtEpochMs - (performance.timeOrigin + performance.now());
if (wait > 0) await sleep(wait);
const results = await Promise.all(
  clients.map(async ({ id, files }) => {
    const done = [];
    for (const file of files) {
      const what = { client: id, index: file.index, resumed: file.abortAt !== undefined };
      const start = toEpoch(performance.now());
      try {
        done.push({ ...what, start, ...(await fetchOne(file)) });
      } catch (error) {
        done.push({
          ...what,
          start,
          end: toEpoch(performance.now()),
          ok: false,
          right: false,
          error: String(error?.message ?? error),
        });
      }
    }
    return done;
  }),
);
parentPort.postMessage(results.flat());
