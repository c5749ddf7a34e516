import type { DistHandle } from '../dist-store.js';
import type { ManifestOwner, OneOrMany, PackageRecord, Shared, UrisValue } from '../distfile-records.js';
import { emptyColumns, FileMap } from '../file-map.js';
import { NameTable } from '../name-table.js';

/** One name's row, as a test writes it. */
export interface TestRow {
  readonly name: string;
  readonly sources?: OneOrMany<PackageRecord>;
  readonly uris?: Shared<UrisValue>;
  readonly owners?: OneOrMany<ManifestOwner>;
  readonly dists?: Shared<DistHandle>;
}

/** A file map of exactly these rows, in this order. */
export function fileMapOf(...rows: TestRow[]): FileMap {
  const table = new NameTable();
  const columns = emptyColumns();
  for (const row of rows) {
    const at = table.rowOf(row.name);
    columns.sources[at] = row.sources;
    columns.uris[at] = row.uris;
    columns.owners[at] = row.owners;
    columns.dists[at] = row.dists;
  }
  const files = new FileMap(table, table.count, columns, 0);
  let size = 0;
  for (let row = 0; row < table.count; row++) if (files.isLive(row)) size++;
  return new FileMap(table, table.count, columns, size);
}
