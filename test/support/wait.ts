import { CacheStore } from '../../src/cache/cache-store.service.js';
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
