import type { DistHandle, DistStore } from './dist-store.js';
import {
  countOf,
  FileRecord,
  lastOf,
  type ManifestOwner,
  manyToArray,
  type OneOrMany,
  type PackageRecord,
  PerSource,
  type Shared,
  sameUris,
  UriPrefixes,
  type UrisValue,
  valueAt,
} from './distfile-records.js';

/**
 * The file map of the next snapshot: the previous one plus what a refresh read, minus what it
 * found gone. Records are written in place while the refresh runs ("drafts"; most names get
 * one source and one DIST line, so no array at all). A record of the previous snapshot is
 * never touched: it is copied into a draft first, so readers of that snapshot see no change.
 */
export class FileMapBuilder {
  private files: Map<string, FileRecord> | undefined;
  /** Names whose record is a draft of this build (incremental builds only: a first build drafts all). */
  private readonly touched = new Set<string>();
  private readonly unsorted = new Set<FileRecord>();
  private readonly removedPackages = new Set<PackageRecord>();
  private readonly removedOwners = new Set<ManifestOwner>();
  private readonly sourceLists = new Lists<PackageRecord>();
  private readonly ownerLists = new Lists<ManifestOwner>();
  private readonly prefixes = new UriPrefixes();

  constructor(
    private readonly base: ReadonlyMap<string, FileRecord> | undefined,
    /** Repository name → position, for ordering sources. */
    private readonly order: ReadonlyMap<string, number>,
    /** Where the DIST values of `base` and of this build are. */
    private readonly store: DistStore,
  ) {}

  get changed(): boolean {
    return this.files !== undefined || this.removedPackages.size > 0 || this.removedOwners.size > 0;
  }

  addSource(name: string, pkg: PackageRecord, written: UrisValue): void {
    const uris = this.prefixes.compact(name, written);
    const record = this.draft(name);
    if (!record) {
      this.create(new FileRecord(name, pkg, uris, undefined, undefined));
      return;
    }
    const count = countOf(record.sources);
    if (count > 0 && this.comparePackages(lastOf(record.sources), pkg) > 0) this.unsorted.add(record);
    record.uris = appendShared(record.uris, count, uris, sameUris);
    record.sources = appendMany(record.sources, pkg);
  }

  addDist(name: string, owner: ManifestOwner, dist: DistHandle): void {
    const record = this.draft(name);
    if (!record) {
      this.create(new FileRecord(name, undefined, undefined, owner, dist));
      return;
    }
    const count = countOf(record.owners);
    if (count > 0 && this.compareOwners(lastOf(record.owners), owner) > 0) this.unsorted.add(record);
    record.dists = appendShared(record.dists, count, dist, this.sameDist);
    record.owners = appendMany(record.owners, owner);
    if (valueAt(record.dists, count) !== dist) this.store.release(dist);
  }

  /** Its files are found in build(): one pass over the map costs less than a list of names per entry. */
  removePackage(pkg: PackageRecord): void {
    this.removedPackages.add(pkg);
  }

  removeOwner(owner: ManifestOwner): void {
    this.removedOwners.add(owner);
  }

  /**
   * `changedNames`: names added, removed, or whose record differs (on a first build, a view of
   * every name). `disagreeing`: records whose Manifests do not all say the same.
   */
  async build(): Promise<{
    files: Map<string, FileRecord>;
    changedNames: ReadonlySet<string>;
    disagreeing: FileRecord[];
  }> {
    const files = this.map();
    const disagreeing: FileRecord[] = [];
    if (this.removedPackages.size > 0 || this.removedOwners.size > 0) {
      for (const record of files.values()) if (this.losesSomething(record)) this.draft(record.name);
    }
    if (!this.base) {
      let done = 0;
      for (const record of files.values()) {
        this.finish(record, disagreeing);
        // A first build finishes ~100k records: let the server breathe meanwhile.
        if (++done % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      return { files, changedNames: new KeySet(files), disagreeing };
    }
    const changedNames = new Set<string>();
    for (const name of this.touched) {
      const record = files.get(name) as FileRecord;
      const old = this.base.get(name);
      this.finish(record, disagreeing);
      if (record.sources === undefined && record.owners === undefined) {
        files.delete(name);
        if (old) changedNames.add(name);
      } else if (!old || !sameRecord(old, record, this.sameDist)) {
        changedNames.add(name);
      }
    }
    return { files, changedNames, disagreeing };
  }

  private readonly sameDist = (a: DistHandle, b: DistHandle): boolean => this.store.same(a, b);

  private losesSomething(record: FileRecord): boolean {
    return anyIn(record.sources, this.removedPackages) || anyIn(record.owners, this.removedOwners);
  }

  private map(): Map<string, FileRecord> {
    this.files ??= this.base ? new Map(this.base) : new Map();
    return this.files;
  }

  private create(record: FileRecord): void {
    this.map().set(record.name, record);
    if (this.base) this.touched.add(record.name);
  }

  /** The record of `name` this build may change, copied from the previous snapshot if need be. */
  private draft(name: string): FileRecord | undefined {
    // No small map of a category's names in front of the big one: its tables, grown and
    // cleared per category, died in old space (~22 MB a build) and saved no measurable time.
    return this.find(name);
  }

  private find(name: string): FileRecord | undefined {
    const files = this.map();
    const record = files.get(name);
    if (!record || !this.base || this.touched.has(record.name)) return record;
    const copy = new FileRecord(
      record.name,
      copyMany(record.sources),
      copyShared(record.uris),
      copyMany(record.owners),
      copyShared(record.dists),
    );
    files.set(copy.name, copy);
    this.touched.add(copy.name);
    return copy;
  }

  /** Drops what was removed, sorts, and shares arrays. */
  private finish(record: FileRecord, disagreeing: FileRecord[]): void {
    if (this.removedPackages.size > 0 || this.removedOwners.size > 0) {
      const sources = manyToArray(record.sources);
      const keptSources = sources.map((pkg) => !this.removedPackages.has(pkg));
      record.uris = filterShared(record.uris, keptSources);
      record.sources = sources.filter((_, i) => keptSources[i]);
      const owners = manyToArray(record.owners);
      const keptOwners = owners.map((owner) => !this.removedOwners.has(owner));
      record.dists = filterShared(record.dists, keptOwners);
      record.owners = owners.filter((_, i) => keptOwners[i]);
    }
    if (this.unsorted.has(record)) this.sort(record);
    if (Array.isArray(record.sources)) record.sources = this.sourceLists.get(record.sources);
    if (Array.isArray(record.owners)) record.owners = this.ownerLists.get(record.owners);
    record.uris = compact(record.uris, sameUris);
    record.dists = compact(record.dists, this.sameDist);
    if (record.dists instanceof PerSource) disagreeing.push(record);
  }

  private sort(record: FileRecord): void {
    const sources = manyToArray(record.sources);
    const bySource = sources.map((_, i) => i).sort((a, b) => this.comparePackages(sources[a], sources[b]));
    const uris = record.uris;
    record.sources = bySource.map((i) => sources[i]);
    if (uris instanceof PerSource) record.uris = new PerSource(bySource.map((i) => uris.values[i]));
    const owners = manyToArray(record.owners);
    const byOwner = owners.map((_, i) => i).sort((a, b) => this.compareOwners(owners[a], owners[b]));
    const dists = record.dists;
    record.owners = byOwner.map((i) => owners[i]);
    if (dists instanceof PerSource) record.dists = new PerSource(byOwner.map((i) => dists.values[i]));
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

/** The keys of a map as a set, without copying them. */
class KeySet implements ReadonlySet<string> {
  constructor(private readonly map: ReadonlyMap<string, unknown>) {}

  get size(): number {
    return this.map.size;
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void): void {
    for (const name of this.map.keys()) callback(name, name, this);
  }

  *entries(): SetIterator<[string, string]> {
    for (const name of this.map.keys()) yield [name, name];
  }

  keys(): SetIterator<string> {
    return this.map.keys();
  }

  values(): SetIterator<string> {
    return this.map.keys();
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.map.keys();
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function anyIn<T>(many: OneOrMany<T>, set: ReadonlySet<T>): boolean {
  if (many === undefined) return false;
  return Array.isArray(many) ? (many as readonly T[]).some((value) => set.has(value)) : set.has(many as T);
}

/**
 * A new exact-size array: versions of a package add to a file's list one after the other, so
 * each list but the last dies young, and the last needs no copy in finish().
 */
function appendMany<T>(many: OneOrMany<T>, value: T): OneOrMany<T> {
  if (many === undefined) return value;
  if (!Array.isArray(many)) return [many as T, value];
  const list = many as readonly T[];
  const longer = new Array<T>(list.length + 1);
  for (let i = 0; i < list.length; i++) longer[i] = list[i];
  longer[list.length] = value;
  return longer;
}

/** `count` values so far, one shared or one each; equal values stay shared. */
function appendShared<T>(
  shared: Shared<T> | undefined,
  count: number,
  value: T,
  same: (a: T, b: T) => boolean,
): Shared<T> {
  if (count === 0) return value;
  if (shared instanceof PerSource) {
    const values = shared.values as T[];
    // Versions of a package usually fetch a file from the same URIs: keep them once.
    values.push(same(values[values.length - 1], value) ? values[values.length - 1] : value);
    return shared;
  }
  if (same(shared as T, value)) return shared as T;
  return new PerSource([...new Array<T>(count).fill(shared as T), value]);
}

function copyMany<T>(many: OneOrMany<T>): OneOrMany<T> {
  return Array.isArray(many) ? [...many] : many;
}

function copyShared<T>(shared: Shared<T> | undefined): Shared<T> | undefined {
  return shared instanceof PerSource ? new PerSource([...shared.values]) : shared;
}

function filterShared<T>(shared: Shared<T> | undefined, keep: readonly boolean[]): Shared<T> | undefined {
  if (!keep.includes(true)) return undefined;
  return shared instanceof PerSource ? new PerSource(shared.values.filter((_, i) => keep[i])) : shared;
}

/**
 * One exact-size array (arrays grown by push carry spare slots) per distinct list: versions of a
 * package name the same files, so files with several sources mostly share their list.
 */
class Lists<T> {
  /** By first value: lists that share one mostly are the same list. */
  private readonly lists = new Map<T, Array<readonly T[]>>();

  /** `values` is exact-size (appendMany) and kept as it is when it is a new list. */
  get(values: readonly T[]): OneOrMany<T> {
    if (values.length < 2) return values[0];
    const known = this.lists.get(values[0]);
    if (known) {
      for (const list of known) if (sameList(list, values)) return list;
      known.push(values);
    } else {
      this.lists.set(values[0], [values]);
    }
    return values;
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One value when all agree (the usual case), else one per source. */
function compact<T>(shared: Shared<T> | undefined, same: (a: T, b: T) => boolean): Shared<T> | undefined {
  if (!(shared instanceof PerSource)) return shared;
  const values = shared.values;
  return values.every((value) => same(value, values[0])) ? values[0] : new PerSource(values.slice());
}

/** Re-read but equal: not worth telling listeners about. */
function sameRecord(
  a: FileRecord,
  b: FileRecord,
  sameDist: (a: DistHandle, b: DistHandle) => boolean,
): boolean {
  const aPackages = manyToArray(a.sources);
  const bPackages = manyToArray(b.sources);
  const aOwners = manyToArray(a.owners);
  const bOwners = manyToArray(b.owners);
  return (
    aPackages.length === bPackages.length &&
    aPackages.every((pkg, i) => {
      const other = bPackages[i];
      return (
        pkg.repo === other.repo &&
        pkg.cpv === other.cpv &&
        pkg.restrict === other.restrict &&
        sameUris(valueAt(a.uris, i), valueAt(b.uris, i))
      );
    }) &&
    aOwners.length === bOwners.length &&
    aOwners.every(
      (owner, i) =>
        owner.repo === bOwners[i].repo &&
        owner.path === bOwners[i].path &&
        sameDist(valueAt(a.dists as Shared<DistHandle>, i), valueAt(b.dists as Shared<DistHandle>, i)),
    )
  );
}
