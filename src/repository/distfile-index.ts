import { DistStore } from './dist-store.js';
import type { ManifestOwner } from './distfile-records.js';
import { type DistfileEntry, DistfileSnapshot } from './distfile-snapshot.js';
import { FileMapBuilder } from './file-map-builder.js';
import { conflictOf, withCompactDists } from './file-map-dists.js';
import {
  type CategoryState,
  type Changes,
  dropCategory,
  type EntryState,
  type ManifestState,
  NO_MANIFEST,
  type RepoState,
} from './index-state.js';
import { forEachPackedDist } from './manifest.js';
import { mapLimited } from './map-limited.js';
import { PackageEntries } from './package-entries.js';
import { packageNameOf } from './package-name.js';
import {
  discoverRepositories,
  type RepositoryConfig,
  type RepositoryDiscoveryOptions,
  type RepositoryLogger,
} from './repos.js';
import { sameOrder, sameRepositories } from './repository-lists.js';
import { NodeRepositoryReader, type RepositoryReader } from './repository-reader.js';
import { SlicedReader, UNCHANGED } from './sliced-reader.js';

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

const CATEGORIES_AT_ONCE = 4;

/**
 * Distfile name → sizes, digests and upstream URIs, from the md5-cache and Manifests of every
 * repository. Remembers what it read per (repository, category), so refresh() re-reads only
 * what changed; each result is a new immutable DistfileSnapshot, swapped in at once.
 */
export class DistfileIndex {
  private readonly reader: RepositoryReader;
  private readonly logger: RepositoryLogger;
  private readonly sliced: SlicedReader;
  private readonly entries: PackageEntries;
  private readonly reported = new Set<string>();
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
    this.sliced = new SlicedReader(this.reader, this.logger);
    this.entries = new PackageEntries(this.logger);
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
    const base = this.states.size > 0 ? previous?.files : undefined;
    // Slabs the reader thread made resident: a build fills ~26 MB of them at once.
    const dists = base && previous ? previous.dists : new DistStore((size) => this.reader.takeMemory?.(size));
    const changes: Changes = { builder: new FileMapBuilder(base, order, dists), dists, filesRead: 0 };
    const states = new Map<string, RepoState>();
    const scanned = await Promise.all(
      repos.map((repo) => this.refreshRepository(repo, this.states.get(repo.location), changes, options)),
    );
    for (const state of scanned) states.set(state.config.location, state);
    for (const [location, old] of this.states) {
      if (states.has(location)) continue;
      for (const category of old.categories.values()) dropCategory(category, changes);
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
    for (const row of disagreeing) {
      const conflict = conflictOf(files, row, store);
      if (conflict !== undefined) this.logger.warn(conflict);
    }
    const generation = (previous?.generation ?? 0) + 1;
    const snapshot = new DistfileSnapshot(generation, repos, files.withoutDeadRows(), store);
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
      for (const category of old.categories.values()) dropCategory(category, changes);
      old = undefined;
    }
    const root = `${repo.location}/metadata/md5-cache`;
    let timestamp: string | undefined;
    await this.sliced.readAll(
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
      if (!categories.has(category)) dropCategory(state, changes);
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
    // of the event loop as the reader thread delivers them: the Manifests, then the md5-cache.
    await this.sliced.readChanged(
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
        forEachPackedDist(read.data, changes.dists, (packed, start, length, dist) =>
          builder.addDist(packed, start, length, owner, dist),
        );
        state.manifests.set(pns[i], { ctimeMs: read.ctimeMs, owner });
      },
      'dists',
    );
    await this.sliced.readChanged(
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
        const pkg = this.entries.addEntry(repo, category, pfs[i], read.data, builder);
        state.entries.set(pfs[i], { ctimeMs: read.ctimeMs, pkg });
      },
      'md5-cache',
    );
    for (const [pf, old] of before?.entries ?? []) {
      if (!state.entries.has(pf) && old.pkg) builder.removePackage(old.pkg);
    }
    for (const [pn, old] of before?.manifests ?? []) {
      if (!state.manifests.has(pn) && old.owner) builder.removeOwner(old.owner);
    }
    return state;
  }

  private warnOnce(message: string, logger: RepositoryLogger): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    logger.warn(message);
  }
}
