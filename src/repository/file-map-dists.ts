import { type DistHandle, DistStore } from './dist-store.js';
import { manyToArray, mergeDists, PerSource } from './distfile-records.js';
import { FileMap } from './file-map.js';

// A FileMap's DIST column over its DistStore: what the Manifests of a name disagree about, and
// compaction once most of the store is no longer used.

export function conflictOf(files: FileMap, row: number, store: DistStore): string | undefined {
  const dists = files.columns.dists[row];
  return dists instanceof PerSource
    ? mergeDists(files.table.nameOf(row), manyToArray(files.columns.owners[row]), dists, store).conflict
    : undefined;
}

/**
 * `files` as they are, or, once most of what `store` holds is no longer used (a refresh appends
 * what it re-read), with a new DIST column over a new store of only what they use. An earlier
 * snapshot's map is never changed: it keeps its store.
 */
export function withCompactDists(files: FileMap, store: DistStore): { files: FileMap; store: DistStore } {
  if (store.size <= 2 * store.usedBytes + (1 << 20)) return { files, store };
  const column = files.columns.dists;
  let live = 0;
  for (let row = 0; row < files.rows; row++) {
    const dists = column[row];
    if (dists instanceof PerSource) for (const handle of dists.values) live += store.bytesOf(handle);
    else if (dists !== undefined) live += store.bytesOf(dists);
  }
  store.usedBytes = live;
  if (store.size <= 2 * live + (1 << 20)) return { files, store };
  const compacted = new DistStore();
  compacted.usedBytes = live;
  const copy = (handle: DistHandle) => store.copyTo(compacted, handle);
  const moved = column.map((dists) =>
    dists instanceof PerSource
      ? new PerSource(dists.values.map(copy))
      : dists === undefined
        ? dists
        : copy(dists),
  );
  return {
    files: new FileMap(files.table, files.rows, { ...files.columns, dists: moved }, files.size),
    store: compacted,
  };
}
