import type { DistHandle, DistStore } from './dist-store.js';
import {
  countOf,
  lastOf,
  type ManifestOwner,
  manyToArray,
  type PackageRecord,
  PerSource,
  type Shared,
  sameUris,
  UriPrefixes,
  type UrisValue,
  valueAt,
} from './distfile-records.js';
import { emptyColumns, type FileColumns, FileMap, isLiveRow, NameSet } from './file-map.js';
import {
  anyIn,
  appendMany,
  appendShared,
  compact,
  copyMany,
  copyShared,
  filterShared,
  Lists,
  single,
} from './row-values.js';

/**
 * The file map of the next snapshot: the previous one plus what a refresh read, minus what it
 * found gone. Rows are written in place while the refresh runs ("drafts"; most names get one
 * source and one DIST line, so no array at all). The previous snapshot's columns and values are
 * never touched: the columns are copied on the first change, and a row's lists are copied the
 * first time this build changes it.
 */
export class FileMapBuilder {
  private columns: FileColumns | undefined;
  /** Rows that are drafts of this build (incremental builds only: a first build drafts all). */
  private readonly touched = new Set<number>();
  private readonly unsorted = new Set<number>();
  private readonly removedPackages = new Set<PackageRecord>();
  private readonly removedOwners = new Set<ManifestOwner>();
  private readonly sourceLists = new Lists<PackageRecord>();
  private readonly ownerLists = new Lists<ManifestOwner>();
  private readonly prefixes = new UriPrefixes();
  private readonly base: FileMap;

  constructor(
    base: FileMap | undefined,
    /** Repository name → position, for ordering sources. */
    private readonly order: ReadonlyMap<string, number>,
    /** Where the DIST values of `base` and of this build are. */
    private readonly store: DistStore,
  ) {
    this.base = base ?? FileMap.empty();
  }

  private get incremental(): boolean {
    return this.base.rows > 0;
  }

  get changed(): boolean {
    return this.columns !== undefined || this.removedPackages.size > 0 || this.removedOwners.size > 0;
  }

  /**
   * A package naming the distfile whose name is the UTF-8 bytes `src[start, start + length)`,
   * with `uris` as the index keeps them: a URI `<prefix><name>` as prefixOfBytes' prefix,
   * others as written.
   */
  addSourceBytes(src: Uint8Array, start: number, length: number, pkg: PackageRecord, uris: UrisValue): void {
    const row = this.draft(this.base.table.rowOfBytes(src, start, length));
    const { sources, uris: allUris } = this.map();
    const count = countOf(sources[row]);
    if (count > 0 && this.comparePackages(lastOf(sources[row]), pkg) > 0) this.unsorted.add(row);
    allUris[row] = appendShared(allUris[row], count, uris, sameUris);
    sources[row] = appendMany(sources[row], pkg);
  }

  /** The shared string of the prefix `src[start, end)` of a URI `<prefix>/<name>`. */
  prefixOfBytes(src: Buffer, start: number, end: number): string {
    return this.prefixes.compactBytes(src, start, end);
  }

  /** The name is the UTF-8 bytes `src[start, start + length)`. */
  addDist(src: Uint8Array, start: number, length: number, owner: ManifestOwner, dist: DistHandle): void {
    const row = this.draft(this.base.table.rowOfBytes(src, start, length));
    const { owners, dists } = this.map();
    const count = countOf(owners[row]);
    if (count > 0 && this.compareOwners(lastOf(owners[row]), owner) > 0) this.unsorted.add(row);
    dists[row] = appendShared(dists[row], count, dist, this.sameDist);
    owners[row] = appendMany(owners[row], owner);
    if (valueAt(dists[row] as Shared<DistHandle>, count) !== dist) this.store.release(dist);
  }

  /** Its files are found in build(): one pass over the map costs less than a list of names per entry. */
  removePackage(pkg: PackageRecord): void {
    this.removedPackages.add(pkg);
  }

  removeOwner(owner: ManifestOwner): void {
    this.removedOwners.add(owner);
  }

  /**
   * `changedNames`: names added, removed, or whose row differs (on a first build, every name).
   * `disagreeing`: rows whose Manifests do not all say the same.
   */
  async build(): Promise<{ files: FileMap; changedNames: ReadonlySet<string>; disagreeing: number[] }> {
    const columns = this.map();
    const table = this.base.table;
    const rows = table.count;
    const disagreeing: number[] = [];
    if (this.removedPackages.size > 0 || this.removedOwners.size > 0) {
      for (let row = 0; row < this.base.rows; row++) if (this.losesSomething(row)) this.draft(row);
    }
    if (!this.incremental) {
      let size = 0;
      for (let row = 0; row < rows; row++) {
        this.finish(row, disagreeing);
        if (isLiveRow(columns, row)) size++;
        // A first build finishes ~200k rows: let the server breathe meanwhile.
        if ((row + 1) % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const files = new FileMap(table, rows, columns, size);
      return { files, changedNames: new NameSet(files), disagreeing };
    }
    const changedNames = new Set<string>();
    let size = this.base.size;
    const old = this.base.columns;
    for (const row of this.touched) {
      const wasLive = row < this.base.rows && this.base.isLive(row);
      this.finish(row, disagreeing);
      const live = isLiveRow(columns, row);
      size += (live ? 1 : 0) - (wasLive ? 1 : 0);
      if (!live) {
        if (wasLive) changedNames.add(table.nameOf(row));
      } else if (!wasLive || !sameRow(old, columns, row, this.sameDist)) {
        changedNames.add(table.nameOf(row));
      }
    }
    return { files: new FileMap(table, rows, columns, size), changedNames, disagreeing };
  }

  private readonly sameDist = (a: DistHandle, b: DistHandle): boolean => this.store.same(a, b);

  private losesSomething(row: number): boolean {
    const { sources, owners } = this.base.columns;
    return anyIn(sources[row], this.removedPackages) || anyIn(owners[row], this.removedOwners);
  }

  private map(): FileColumns {
    if (this.columns) return this.columns;
    const base = this.base.columns;
    this.columns = this.incremental
      ? {
          sources: base.sources.slice(),
          uris: base.uris.slice(),
          owners: base.owners.slice(),
          dists: base.dists.slice(),
        }
      : emptyColumns();
    return this.columns;
  }

  /** `row`, its lists copied from the previous snapshot if this build has not changed it yet. */
  private draft(row: number): number {
    let columns = this.map();
    if (row >= columns.sources.length) {
      // A write past the end would make a sparse (dictionary) array, and growing four columns
      // by push a row at a time cost 0.17 s per ::gentoo-sized build: fourfold, holes for undefined.
      const capacity = Math.max(1024, 4 * columns.sources.length, row + 1);
      columns = {
        sources: widened(columns.sources, capacity),
        uris: widened(columns.uris, capacity),
        owners: widened(columns.owners, capacity),
        dists: widened(columns.dists, capacity),
      };
      this.columns = columns;
    }
    if (!this.incremental || this.touched.has(row)) return row;
    columns.sources[row] = copyMany(columns.sources[row]);
    columns.uris[row] = copyShared(columns.uris[row]);
    columns.owners[row] = copyMany(columns.owners[row]);
    columns.dists[row] = copyShared(columns.dists[row]);
    this.touched.add(row);
    return row;
  }

  /** Drops what was removed, sorts, and shares arrays. */
  private finish(row: number, disagreeing: number[]): void {
    const columns = this.columns as FileColumns;
    if (this.removedPackages.size > 0 || this.removedOwners.size > 0) {
      const sources = manyToArray(columns.sources[row]);
      const keptSources = sources.map((pkg) => !this.removedPackages.has(pkg));
      columns.uris[row] = filterShared(columns.uris[row], keptSources);
      columns.sources[row] = single(sources.filter((_, i) => keptSources[i]));
      const owners = manyToArray(columns.owners[row]);
      const keptOwners = owners.map((owner) => !this.removedOwners.has(owner));
      columns.dists[row] = filterShared(columns.dists[row], keptOwners);
      columns.owners[row] = single(owners.filter((_, i) => keptOwners[i]));
    }
    if (this.unsorted.has(row)) this.sort(columns, row);
    const sources = columns.sources[row];
    if (Array.isArray(sources)) columns.sources[row] = this.sourceLists.get(sources);
    const owners = columns.owners[row];
    if (Array.isArray(owners)) columns.owners[row] = this.ownerLists.get(owners);
    columns.uris[row] = compact(columns.uris[row], sameUris);
    columns.dists[row] = compact(columns.dists[row], this.sameDist);
    if (columns.dists[row] instanceof PerSource) disagreeing.push(row);
  }

  private sort(columns: FileColumns, row: number): void {
    const sources = manyToArray(columns.sources[row]);
    const bySource = sources.map((_, i) => i).sort((a, b) => this.comparePackages(sources[a], sources[b]));
    const uris = columns.uris[row];
    columns.sources[row] = bySource.map((i) => sources[i]);
    if (uris instanceof PerSource) columns.uris[row] = new PerSource(bySource.map((i) => uris.values[i]));
    const owners = manyToArray(columns.owners[row]);
    const byOwner = owners.map((_, i) => i).sort((a, b) => this.compareOwners(owners[a], owners[b]));
    const dists = columns.dists[row];
    columns.owners[row] = byOwner.map((i) => owners[i]);
    if (dists instanceof PerSource) columns.dists[row] = new PerSource(byOwner.map((i) => dists.values[i]));
  }

  private comparePackages(a: PackageRecord, b: PackageRecord): number {
    return this.compareRepos(a.repo, b.repo) || compare(a.category, b.category) || compare(a.cpv, b.cpv);
  }

  private compareOwners(a: ManifestOwner, b: ManifestOwner): number {
    return this.compareRepos(a.repo, b.repo) || compare(a.category, b.category) || compare(a.path, b.path);
  }

  private compareRepos(a: string, b: string): number {
    return (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0);
  }
}

function widened<T>(column: readonly T[], capacity: number): T[] {
  const wider = new Array<T>(capacity);
  for (let i = 0; i < column.length; i++) wider[i] = column[i];
  return wider;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Re-read but equal: not worth telling listeners about. */
function sameRow(
  a: FileColumns,
  b: FileColumns,
  row: number,
  sameDist: (a: DistHandle, b: DistHandle) => boolean,
): boolean {
  const aPackages = manyToArray(a.sources[row]);
  const bPackages = manyToArray(b.sources[row]);
  const aOwners = manyToArray(a.owners[row]);
  const bOwners = manyToArray(b.owners[row]);
  return (
    aPackages.length === bPackages.length &&
    aPackages.every((pkg, i) => {
      const other = bPackages[i];
      return (
        pkg.repo === other.repo &&
        pkg.cpv === other.cpv &&
        pkg.restrict === other.restrict &&
        sameUris(valueAt(a.uris[row], i), valueAt(b.uris[row], i))
      );
    }) &&
    aOwners.length === bOwners.length &&
    aOwners.every(
      (owner, i) =>
        owner.repo === bOwners[i].repo &&
        owner.path === bOwners[i].path &&
        sameDist(
          valueAt(a.dists[row] as Shared<DistHandle>, i),
          valueAt(b.dists[row] as Shared<DistHandle>, i),
        ),
    )
  );
}
