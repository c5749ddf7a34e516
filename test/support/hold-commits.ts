import type { CacheStore } from '../../src/cache/cache-store.service.js';

/** Holds every commit of `store` until the returned function is called (which may be called again). */
export function holdCommits(store: CacheStore): () => void {
  const commit = store.commit.bind(store);
  let letCommit!: () => void;
  const held = new Promise<void>((resolve) => {
    letCommit = resolve;
  });
  store.commit = async (...args) => {
    await held;
    return commit(...args);
  };
  return letCommit;
}
