// A worker thread of item 9 (scripts/bench/fleet.mjs): runs its share of the fleet's clients,
// each downloading its list of files one after another, from an agreed moment on. A download
// marked with `abortAt` is dropped after that many body bytes and resumed the way `wget -c` does
// (Range: bytes=<have>-, appending to what it has; a 200 instead of a 206 starts over). Every
// body is compared byte for byte, as it streams in, with the file that was written (see
// matchesTestFile: SHA-256 here made the clients use ~4× portcache's CPU and set the pace).
import { parentPort, workerData } from 'node:worker_threads';
import { matchesTestFile, rawGet, sleep } from './lib.mjs';

const { base, clients, firstBlocks, startAtEpochMs, timeoutMs } = workerData;
const blocks = Buffer.from(firstBlocks);
const toEpoch = (t) => performance.timeOrigin + t;

async function fetchOne(file, readBuffer) {
  const url = `${base}/${file.name}`;
  const first = blocks.subarray(file.firstOffset, file.firstOffset + Math.min(file.size, 1 << 20));
  const statuses = [];
  let have = 0; // body bytes assembled so far
  let same = true;
  let restarted = false;
  const onBody = (chunk) => {
    same &&= matchesTestFile(first, file.size, have, chunk);
    have += chunk.length;
  };
  const initial = await rawGet(url, { timeoutMs, stopAfter: file.abortAt, onBody, readBuffer });
  statuses.push(initial.status);
  if (initial.status !== 200) throw new Error(`GET ${url}: HTTP ${initial.status}`);
  if (initial.stopped) {
    await rawGet(url, {
      timeoutMs,
      headers: { Range: `bytes=${have}-` },
      readBuffer,
      onHeaders: (status, head) => {
        statuses.push(status);
        if (status === 200) {
          have = 0;
          same = true;
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
      onBody,
    });
  }
  const right = same && have === file.size;
  return {
    end: toEpoch(performance.now()),
    ok: true,
    right,
    statuses,
    restarted,
    ...(right ? {} : { error: `GET ${url}: ${have} of ${file.size} bytes${same ? '' : ', bytes differ'}` }),
  };
}

const wait = startAtEpochMs - (performance.timeOrigin + performance.now());
if (wait > 0) await sleep(wait);
const results = await Promise.all(
  clients.map(async ({ id, files }) => {
    const readBuffer = Buffer.alloc(1 << 20); // one per client, touched before the start
    const done = [];
    for (const file of files) {
      const what = { client: id, index: file.index, resumed: file.abortAt !== undefined };
      const start = toEpoch(performance.now());
      try {
        done.push({ ...what, start, ...(await fetchOne(file, readBuffer)) });
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
