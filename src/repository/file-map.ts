import type { DistHandle } from './dist-store.js';
import type { ManifestOwner, OneOrMany, PackageRecord, Shared, UrisValue } from './distfile-records.js';
import { NameTable } from './name-table.js';

/**
 * What is known about each distfile name, a column per field and a row per name of the
 * NameTable. Only FileMapBuilder writes, and only to the columns of the map it is building: a
 * FileMap in a snapshot never changes.
 */
export interface FileColumns {
  /** Repository order, then category and PF. */
  readonly sources: Array<OneOrMany<PackageRecord>>;
  /** Per source, or one shared by all. */
  readonly uris: Array<Shared<UrisValue> | undefined>;
  /** Repository order, then package path. */
  readonly owners: Array<OneOrMany<ManifestOwner>>;
  /** Per owner, or one shared by all; in the DistStore of the snapshot. */
  readonly dists: Array<Shared<DistHandle> | undefined>;
}

/** A row is a distfile while some md5-cache entry or Manifest names it. */
export function isLiveRow(columns: FileColumns, row: number): boolean {
  return columns.sources[row] !== undefined || columns.owners[row] !== undefined;
}

export function emptyColumns(): FileColumns {
  return { sources: [], uris: [], owners: [], dists: [] };
}

/**
 * The distfiles of one snapshot: the table's rows below `rows` that have a source or an owner
 * (a row whose name went away stays in the table, empty).
 */
export class FileMap {
  constructor(
    readonly table: NameTable,
    readonly rows: number,
    readonly columns: FileColumns,
    /** Live rows. */
    readonly size: number,
  ) {}

  static empty(): FileMap {
    return new FileMap(new NameTable(), 0, emptyColumns(), 0);
  }

  /** -1 unless the name is a distfile of this map. */
  rowOf(name: string): number {
    const row = this.table.find(name);
    return row >= 0 && row < this.rows && this.isLive(row) ? row : -1;
  }

  has(name: string): boolean {
    return this.rowOf(name) >= 0;
  }

  isLive(row: number): boolean {
    return isLiveRow(this.columns, row);
  }

  *names(): IterableIterator<string> {
    for (let row = 0; row < this.rows; row++) if (this.isLive(row)) yield this.table.nameOf(row);
  }

  /**
   * The same distfiles over a new table, once the rows of names gone (the table only grows) are
   * more than the live ones and `slack`; else this map.
   */
  withoutDeadRows(slack = 1 << 16): FileMap {
    if (this.rows - this.size <= Math.max(this.size, slack)) return this;
    const table = new NameTable();
    const { sources, uris, owners, dists } = this.columns;
    const columns: FileColumns = {
      sources: new Array(this.size),
      uris: new Array(this.size),
      owners: new Array(this.size),
      dists: new Array(this.size),
    };
    for (let row = 0; row < this.rows; row++) {
      if (!this.isLive(row)) continue;
      const at = table.rowOf(this.table.nameOf(row));
      columns.sources[at] = sources[row];
      columns.uris[at] = uris[row];
      columns.owners[at] = owners[row];
      columns.dists[at] = dists[row];
    }
    return new FileMap(table, table.count, columns, this.size);
  }
}

/** Every name of a map as a set, names made as they are iterated. */
export class NameSet implements ReadonlySet<string> {
  constructor(private readonly map: FileMap) {}

  get size(): number {
    return this.map.size;
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void): void {
    for (const name of this.map.names()) callback(name, name, this);
  }

  *entries(): SetIterator<[string, string]> {
    for (const name of this.map.names()) yield [name, name];
  }

  keys(): SetIterator<string> {
    return this.map.names();
  }

  values(): SetIterator<string> {
    return this.map.names();
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.map.names();
  }
}
