import { readdir } from 'node:fs/promises';
import { CacheStore } from '../../src/cache/cache-store.service.js';
import { FillService } from '../../src/fills/fill.service.js';
import type { RunningPortcache } from './portcache.js';
import { sleep } from './upstream-server.js';

/** Waits (bounded) until portcache has committed `name`: a client may see all bytes before the commit. */
export async function waitForCommit(
  portcache: RunningPortcache,
  name: string,
  timeoutMs = 5000,
): Promise<void> {
  const store = portcache.app.get(CacheStore);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) {
    if (store.get(name)) return;
  }
  throw new Error(`${name} was not committed within ${timeoutMs} ms`);
}

/**
 * Waits (bounded) until `name` is cached and its fill is over: a fill keeps the name (writes to
 * it get 409) until its commit is durable, after its clients had every byte.
 */
export async function waitForFillOver(
  portcache: RunningPortcache,
  name: string,
  timeoutMs = 5000,
): Promise<void> {
  const store = portcache.app.get(CacheStore);
  const fills = portcache.app.get(FillService);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) {
    if (store.get(name) && !fills.isFilling(name)) return;
  }
  throw new Error(`${name} was not cached with its fill over within ${timeoutMs} ms`);
}

/** Waits (bounded) until the running fill of `name` has written at least `bytes`. */
export async function waitForFillAt(
  portcache: RunningPortcache,
  name: string,
  bytes: number,
  timeoutMs = 10_000,
) {
  const fills = portcache.app.get(FillService);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(5)) {
    const written = fills.running(name)?.written ?? 0;
    if (written >= bytes) return written;
  }
  throw new Error(`fill of ${name} did not reach ${bytes} bytes within ${timeoutMs} ms`);
}

/** Waits (bounded) until `dir` is empty; resolves with what it still holds at the deadline. */
export async function emptiedDir(dir: string, timeoutMs = 2000): Promise<string[]> {
  let entries = await readdir(dir);
  for (const deadline = Date.now() + timeoutMs; entries.length > 0 && Date.now() < deadline; ) {
    await sleep(10);
    entries = await readdir(dir);
  }
  return entries;
}
