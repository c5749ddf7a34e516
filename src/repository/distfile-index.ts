import { DistStore } from './dist-store.js';
import { filesOf, forEachDist } from './distfile-parse.js';
import {
  conflictOf,
  type ManifestOwner,
  NO_RESTRICT,
  type PackageRecord,
  type RestrictFlags,
  restrictFlagsOf,
  type UrisValue,
  urisOf,
  withCompactDists,
} from './distfile-records.js';
import { type DistfileEntry, DistfileSnapshot } from './distfile-snapshot.js';
import { FileMapBuilder } from './file-map-builder.js';
import { readMd5CacheFields } from './md5-cache.js';
import { packageNameOf } from './package-name.js';
import {
  discoverRepositories,
  type RepositoryConfig,
  type RepositoryDiscoveryOptions,
  type RepositoryLogger,
} from './repos.js';
import { type FileContent, NodeRepositoryReader, type RepositoryReader } from './repository-reader.js';
import { parseRestrict, parseSrcUri, type SrcUriItem, tokenizeDepString } from './src-uri.js';
import { splitMirrorUri } from './thirdpartymirrors.js';

export interface DistfileIndexOptions {
  discovery?: RepositoryDiscoveryOptions;
  reader?: RepositoryReader;
  logger?: RepositoryLogger;
}

export interface RefreshOptions {
  /** Stat every md5-cache entry and Manifest even when timestamp.chk and directories say nothing changed. */
  deep?: boolean;
}

export interface RefreshResult {
  readonly snapshot: DistfileSnapshot;
  /** False when nothing changed: `snapshot` is the previous one. */
  readonly changed: boolean;
  /** This was the first build. */
  readonly full: boolean;
  /** Distfiles added, removed or changed (sources, size, digests); every name on the first build. */
  readonly changedNames: ReadonlySet<string>;
  /** md5-cache entries and Manifests read (not counting stat). */
  readonly filesRead: number;
  readonly durationMs: number;
}

interface RepoState {
  readonly config: RepositoryConfig;
  readonly timestamp: string | undefined;
  readonly categories: ReadonlyMap<string, CategoryState>;
}

interface CategoryState {
  readonly ctimeMs: number;
  readonly entries: ReadonlyMap<string, EntryState>;
  readonly manifests: ReadonlyMap<string, ManifestState>;
}

interface EntryState {
  readonly ctimeMs: number;
  /** Undefined when the entry names no distfile. */
  readonly pkg: PackageRecord | undefined;
}

interface ManifestState {
  /** NaN: the package has no Manifest. */
  readonly ctimeMs: number;
  readonly owner: ManifestOwner | undefined;
}

/** What a refresh learned, applied to the next file map as it goes. */
interface Changes {
  readonly builder: FileMapBuilder;
  /** Where the DIST values read go. */
  readonly dists: DistStore;
  filesRead: number;
}

const CATEGORIES_AT_ONCE = 4;
/** Entries or Manifests read at once, and parsed in one turn of the event loop. */
const SLICE = 128;
const UNCHANGED = Symbol('unchanged');
const NO_FILES = { names: [], uris: [] };
const NO_MANIFEST: ManifestState = { ctimeMs: Number.NaN, owner: undefined };

/**
 * Distfile name → sizes, digests and upstream URIs, from the md5-cache and Manifests of every
 * repository. Remembers what it read per (repository, category), so refresh() re-reads only
 * what changed; each result is a new immutable DistfileSnapshot, swapped in at once.
 */
export class DistfileIndex {
  private readonly reader: RepositoryReader;
  private readonly logger: RepositoryLogger;
  private readonly reported = new Set<string>();
  private readonly unknownMirrors = new Set<string>();
  private states = new Map<string, RepoState>();
  private current: DistfileSnapshot | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DistfileIndexOptions = {}) {
    this.reader = options.reader ?? new NodeRepositoryReader();
    const logger = options.logger ?? { log: () => {}, warn: () => {} };
    // Discovery runs on every refresh: say each thing once.
    this.logger = {
      log: (message) => logger.log(message),
      warn: (message) => this.warnOnce(message, logger),
    };
  }

  get snapshot(): DistfileSnapshot | undefined {
    return this.current;
  }

  lookup(name: string): DistfileEntry | undefined {
    return this.current?.lookup(name);
  }

  /**
   * The first call builds everything; later ones re-read what changed. Calls run one at a time.
   * Each ends the reader thread (15–35 MB); refreshes are a minute or more apart.
   */
  refresh(options: RefreshOptions = {}): Promise<RefreshResult> {
    const result = this.running.then(() => this.refreshOnce(options)).finally(() => this.reader.close());
    this.running = result.catch(() => undefined);
    return result;
  }

  /** Stops the reader thread; a later refresh starts it again. */
  close(): Promise<void> {
    return this.reader.close();
  }

  private async refreshOnce(options: RefreshOptions): Promise<RefreshResult> {
    const started = performance.now();
    const previous = this.current;
    const repos = await discoverRepositories(this.options.discovery ?? {}, this.logger);
    const order = new Map(repos.map((repo, i) => [repo.name, i]));
    if (previous && !sameOrder(previous.repositories, repos)) {
      // Sources are kept in repository order: a new order is a new index.
      this.states = new Map();
    }
    const base = this.states.size > 0 ? previous?.records : undefined;
    const dists = base && previous ? previous.dists : new DistStore();
    const changes: Changes = { builder: new FileMapBuilder(base, order, dists), dists, filesRead: 0 };
    const states = new Map<string, RepoState>();
    const scanned = await Promise.all(
      repos.map((repo) => this.refreshRepository(repo, this.states.get(repo.location), changes, options)),
    );
    for (const state of scanned) states.set(state.config.location, state);
    for (const [location, old] of this.states) {
      if (states.has(location)) continue;
      for (const category of old.categories.values()) this.dropCategory(category, changes);
    }
    const result = (snapshot: DistfileSnapshot, changed: boolean, changedNames: ReadonlySet<string>) => ({
      snapshot,
      changed,
      full: previous === undefined,
      changedNames,
      filesRead: changes.filesRead,
      durationMs: performance.now() - started,
    });
    if (previous && !changes.builder.changed && sameRepositories(previous.repositories, repos)) {
      this.states = states;
      return result(previous, false, new Set());
    }
    const built = await changes.builder.build();
    const { changedNames, disagreeing } = built;
    const { files, store } = withCompactDists(built.files, dists);
    const snapshot = new DistfileSnapshot((previous?.generation ?? 0) + 1, repos, files, store);
    for (const record of disagreeing) {
      const conflict = conflictOf(record, dists);
      if (conflict !== undefined) this.logger.warn(conflict);
    }
    this.states = states;
    this.current = snapshot;
    this.logger.log(
      `${previous ? 'refreshed' : 'indexed'} ${snapshot.size} distfiles of ${repos.map((repo) => repo.name).join(', ') || 'no repository'}: ${changedNames.size} changed, ${changes.filesRead} files read in ${Math.round(performance.now() - started)} ms`,
    );
    return result(snapshot, true, changedNames);
  }

  private async refreshRepository(
    repo: RepositoryConfig,
    known: RepoState | undefined,
    changes: Changes,
    options: RefreshOptions,
  ): Promise<RepoState> {
    let old = known;
    if (old && old.config.name !== repo.name) {
      for (const category of old.categories.values()) this.dropCategory(category, changes);
      old = undefined;
    }
    const root = `${repo.location}/metadata/md5-cache`;
    let timestamp: string | undefined;
    await this.readAll(
      1,
      () => `${repo.location}/metadata/timestamp.chk`,
      (_, read) => {
        timestamp = read?.data.toString('utf8').trim();
      },
    );
    // timestamp.chk changes with every sync of a repository that has one. Without one, nothing
    // tells a file rewritten in place: stat them all.
    const deep = options.deep === true || timestamp === undefined || timestamp !== old?.timestamp;
    const listing = repo.hasMd5Cache ? await this.reader.readdir(root) : undefined;
    const names = (listing ?? [])
      .filter((entry) => entry.isDirectory && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
    const dirCtimes = await this.reader.stat(names.map((category) => `${root}/${category}`));
    // A few categories at a time, so the reader thread reads the next while this one is parsed.
    const results = await mapLimited(names, CATEGORIES_AT_ONCE, async (category, i) => {
      const ctimeMs = dirCtimes[i];
      if (ctimeMs === undefined) return undefined;
      const before = old?.categories.get(category);
      if (before && !deep && before.ctimeMs === ctimeMs) return { category, state: before };
      return { category, state: await this.scanCategory(repo, category, ctimeMs, before, changes) };
    });
    const categories = new Map<string, CategoryState>();
    for (const result of results) if (result) categories.set(result.category, result.state);
    for (const [category, state] of old?.categories ?? []) {
      if (!categories.has(category)) this.dropCategory(state, changes);
    }
    return { config: repo, timestamp, categories };
  }

  private async scanCategory(
    repo: RepositoryConfig,
    category: string,
    ctimeMs: number,
    before: CategoryState | undefined,
    changes: Changes,
  ): Promise<CategoryState> {
    const cacheDir = `${repo.location}/metadata/md5-cache/${category}`;
    const pfs: string[] = [];
    const packages = new Set<string>();
    for (const entry of (await this.reader.readdir(cacheDir)) ?? []) {
      if (entry.isDirectory || entry.name.startsWith('.')) continue;
      const pn = packageNameOf(entry.name);
      if (pn === undefined) {
        this.logger.warn(
          `${repo.name}: ignoring metadata/md5-cache/${category}/${entry.name}: not <package>-<version>`,
        );
        continue;
      }
      pfs.push(entry.name);
      packages.add(pn);
    }
    pfs.sort();
    const pns = [...packages].sort();
    const oldEntries = pfs.map((pf) => before?.entries.get(pf));
    const oldManifests = pns.map((pn) => before?.manifests.get(pn));
    const { builder } = changes;
    const state = {
      ctimeMs,
      entries: new Map<string, EntryState>(),
      manifests: new Map<string, ManifestState>(),
    };
    // Each file in PF (PN) order, so the files of one category need no sorting, a slice per turn
    // of the event loop as the reader thread delivers them. Manifests first: a name met in a
    // DIST line first is a string of its own, where one met in SRC_URI is a slice that would
    // keep its whole URI alive (the index keeps most URIs as a shared prefix only).
    await this.readChanged(
      pns.length,
      (i) => `${repo.location}/${category}/${pns[i]}/Manifest`,
      oldManifests.map((old) => old?.ctimeMs),
      changes,
      (i, read) => {
        const old = oldManifests[i];
        if (read === UNCHANGED) {
          state.manifests.set(pns[i], old as ManifestState);
          return;
        }
        if (old?.owner) builder.removeOwner(old.owner);
        if (!read) {
          state.manifests.set(pns[i], NO_MANIFEST);
          return;
        }
        const owner: ManifestOwner = { repo: repo.name, category, path: `${category}/${pns[i]}` };
        forEachDist(read.data, changes.dists, (name, dist) => builder.addDist(name, owner, dist));
        state.manifests.set(pns[i], { ctimeMs: read.ctimeMs, owner });
      },
    );
    await this.readChanged(
      pfs.length,
      (i) => `${cacheDir}/${pfs[i]}`,
      oldEntries.map((old) => old?.ctimeMs),
      changes,
      (i, read) => {
        const old = oldEntries[i];
        if (read === UNCHANGED) {
          state.entries.set(pfs[i], old as EntryState);
          return;
        }
        if (old?.pkg) builder.removePackage(old.pkg);
        if (!read) return;
        const { pkg, files } = this.parseEntry(repo, category, pfs[i], read.data);
        if (pkg) {
          files.names.forEach((name, j) => {
            builder.addSource(name, pkg, files.uris[j]);
            this.checkMirrors(files.uris[j], pkg, repo);
          });
        }
        state.entries.set(pfs[i], { ctimeMs: read.ctimeMs, pkg });
      },
    );
    for (const [pf, old] of before?.entries ?? []) {
      if (!state.entries.has(pf) && old.pkg) builder.removePackage(old.pkg);
    }
    for (const [pn, old] of before?.manifests ?? []) {
      if (!state.manifests.has(pn) && old.owner) builder.removeOwner(old.owner);
    }
    return state;
  }

  /**
   * Visits each of `count` paths: UNCHANGED when its ctime is the one known (NaN: known to be
   * missing), else what reading it found. Paths are made when needed: a category's worth made
   * up front outlived two young-generation collections and died in old space.
   */
  private async readChanged(
    count: number,
    pathOf: (i: number) => string,
    known: ReadonlyArray<number | undefined>,
    changes: Changes,
    visit: (i: number, read: FileContent | typeof UNCHANGED | undefined) => void,
  ): Promise<void> {
    const knownAt: number[] = [];
    for (let i = 0; i < count; i++) if (known[i] !== undefined) knownAt.push(i);
    const ctimes = knownAt.length > 0 ? await this.reader.stat(knownAt.map(pathOf)) : [];
    const toRead: number[] = [];
    let next = 0;
    for (let i = 0; i < count; i++) {
      if (known[i] !== undefined && Object.is(known[i], ctimes[next++] ?? Number.NaN)) visit(i, UNCHANGED);
      else toRead.push(i);
    }
    await this.readAll(
      toRead.length,
      (j) => pathOf(toRead[j]),
      (j, read) => {
        if (read) changes.filesRead++;
        visit(toRead[j], read);
      },
    );
  }

  /**
   * A slice at a time, each file visited as soon as its slice arrives: the reader lends the
   * bytes until the next turn only, and what parsing leaves behind dies young. Unreadable files
   * are reported and then treated as missing.
   */
  private async readAll(
    count: number,
    pathOf: (i: number) => string,
    visit: (i: number, read: FileContent | undefined) => void,
  ): Promise<void> {
    for (let from = 0; from < count; from += SLICE) {
      const slice: string[] = [];
      for (let i = from; i < count && i < from + SLICE; i++) slice.push(pathOf(i));
      const reads = await this.reader.readFiles(slice);
      reads.forEach((read, j) => {
        if (read instanceof Error) this.logger.warn(`cannot read ${slice[j]}: ${read.message}`);
        visit(from + j, read instanceof Error ? undefined : read);
      });
    }
  }

  private dropCategory(category: CategoryState, changes: Changes): void {
    for (const entry of category.entries.values()) {
      if (entry.pkg) changes.builder.removePackage(entry.pkg);
    }
    for (const manifest of category.manifests.values()) {
      if (manifest.owner) changes.builder.removeOwner(manifest.owner);
    }
  }

  private parseEntry(
    repo: RepositoryConfig,
    category: string,
    pf: string,
    data: Buffer,
  ): { pkg: PackageRecord | undefined; files: { names: string[]; uris: UrisValue[] } } {
    const fields = readMd5CacheFields(data);
    if (fields.srcUri.length === 0) return { pkg: undefined, files: NO_FILES };
    const cpv = `${category}/${pf}`;
    let items: SrcUriItem[];
    try {
      items = parseSrcUri(fields.srcUri);
    } catch (error) {
      this.logger.warn(
        `${cpv}::${repo.name} skipped: its SRC_URI does not parse: ${(error as Error).message}`,
      );
      return { pkg: undefined, files: NO_FILES };
    }
    const pkg: PackageRecord = {
      repo: repo.name,
      category,
      cpv,
      restrict: this.restrictOf(fields.restrict, cpv, repo),
    };
    return { pkg, files: filesOf(items) };
  }

  private restrictOf(text: string | undefined, cpv: string, repo: RepositoryConfig): RestrictFlags {
    if (text === undefined || text.trim() === '') return NO_RESTRICT;
    try {
      return restrictFlagsOf(parseRestrict(text));
    } catch (error) {
      this.logger.warn(
        `${cpv}::${repo.name}: RESTRICT does not parse (${(error as Error).message}); taking every word of it`,
      );
      return restrictFlagsOf(new Set(tokenizeDepString(text)));
    }
  }

  private checkMirrors(value: UrisValue, pkg: PackageRecord, repo: RepositoryConfig): void {
    for (const uri of urisOf(value).uris) {
      if (!uri.startsWith('mirror://')) continue;
      const mirror = splitMirrorUri(uri);
      if (!mirror) {
        this.logger.warn(`${pkg.cpv}::${repo.name}: ${uri} names no file under a mirror: skipped`);
      } else if (
        mirror.name !== 'gentoo' &&
        !repo.mirrors.has(mirror.name) &&
        !this.unknownMirrors.has(mirror.name)
      ) {
        this.unknownMirrors.add(mirror.name);
        this.logger.warn(
          `mirror://${mirror.name}/ (first seen in ${pkg.cpv}::${repo.name}) is in no profiles/thirdpartymirrors of ${repo.name} or its masters: those URIs are skipped`,
        );
      }
    }
  }

  private warnOnce(message: string, logger: RepositoryLogger): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    logger.warn(message);
  }
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The repositories both lists have come in the same order. */
function sameOrder(a: readonly RepositoryConfig[], b: readonly RepositoryConfig[]): boolean {
  const common = (list: readonly RepositoryConfig[], other: readonly RepositoryConfig[]) =>
    list.map((repo) => repo.name).filter((name) => other.some((repo) => repo.name === name));
  const x = common(a, b);
  const y = common(b, a);
  return x.every((name, i) => name === y[i]);
}

function sameRepositories(a: readonly RepositoryConfig[], b: readonly RepositoryConfig[]): boolean {
  const key = (repos: readonly RepositoryConfig[]) =>
    JSON.stringify(repos.map((repo) => [repo.name, repo.location, repo.masters, [...repo.mirrors]]));
  return key(a) === key(b);
}
