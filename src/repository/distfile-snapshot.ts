import { type DistHandle, DistStore } from './dist-store.js';
import {
  fullUris,
  type ManifestOwner,
  manyToArray,
  mergeDists,
  type PackageRecord,
  type RestrictFlags,
  type Shared,
  type UrisValue,
  urisOf,
  valueAt,
} from './distfile-records.js';
import { FileMap } from './file-map.js';
import type { RepositoryConfig } from './repos.js';
import type { UriLift } from './src-uri.js';
import { expandMirrorUri, type MirrorTable, splitMirrorUri } from './thirdpartymirrors.js';

export type { RestrictFlags } from './distfile-records.js';

export interface DistfileUri {
  /** An upstream URL, mirror:// expanded; `mirror://gentoo/<path>` is left for the caller's own mirrors. */
  readonly url: string;
  readonly lifts?: UriLift;
}

export interface DistfileSource {
  readonly repo: string;
  /** `<category>/<PF>` of the md5-cache entry. */
  readonly cpv: string;
  /** SRC_URI order; empty for a bare file name (fetch-restricted). */
  readonly uris: readonly DistfileUri[];
  readonly restrict: RestrictFlags;
}

/** One distinct DIST line for a name. */
export interface ManifestEntry {
  /** Repositories whose Manifest has this DIST line, repository order. */
  readonly repos: readonly string[];
  readonly size: number;
  /** Lowercase hex. */
  readonly BLAKE2B?: string;
  readonly SHA512?: string;
}

export interface DistfileEntry {
  readonly name: string;
  /** Set only when every Manifest naming the file agrees. */
  readonly size?: number;
  /** Lowercase hex. */
  readonly BLAKE2B?: string;
  readonly SHA512?: string;
  /**
   * At least one Manifest entry has a size and a BLAKE2B or SHA512 digest: bytes must match one
   * of them. Disagreeing Manifests do not switch verification off.
   */
  readonly verifiable: boolean;
  /** Why Manifests disagree (kept for explain), when they do. */
  readonly conflict?: string;
  /** The distinct DIST lines for this name (one when all agree; none when no Manifest lists it). */
  readonly manifests: readonly ManifestEntry[];
  /** Packages naming the file: repository order, then category and PF. Empty for a file only in a Manifest. */
  readonly sources: readonly DistfileSource[];
}

const NO_MIRRORS: MirrorTable = new Map();

/**
 * The index at one moment. A refresh builds a new snapshot and swaps it in; whoever holds this
 * one keeps a consistent view.
 */
export class DistfileSnapshot {
  private readonly mirrors = new Map<string, MirrorTable>();

  constructor(
    readonly generation: number,
    readonly repositories: readonly RepositoryConfig[],
    /** For the index that builds the next snapshot. */
    readonly files: FileMap = FileMap.empty(),
    /** Where the records' DIST values are. */
    readonly dists: DistStore = new DistStore(),
  ) {
    for (const repo of repositories) this.mirrors.set(repo.name, repo.mirrors);
  }

  get size(): number {
    return this.files.size;
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  names(): IterableIterator<string> {
    return this.files.names();
  }

  lookup(name: string): DistfileEntry | undefined {
    const row = this.files.rowOf(name);
    if (row < 0) return undefined;
    const { columns } = this.files;
    const uris = columns.uris[row];
    const dists = columns.dists[row];
    const sources = manyToArray(columns.sources[row]).map((pkg, i) =>
      this.sourceOf(pkg, fullUris(valueAt(uris, i), name)),
    );
    const owners = manyToArray(columns.owners[row]);
    const { merged, conflict } = mergeDists(name, owners, dists, this.dists);
    const manifests: readonly ManifestEntry[] = merged
      ? [{ repos: distinctRepos(owners), ...merged }]
      : conflict !== undefined
        ? distinctLines(owners, dists as Shared<DistHandle>, this.dists)
        : [];
    return {
      name,
      ...merged,
      verifiable: manifests.some((line) => line.BLAKE2B !== undefined || line.SHA512 !== undefined),
      ...(conflict !== undefined && { conflict }),
      manifests,
      sources,
    };
  }

  private sourceOf(pkg: PackageRecord, value: UrisValue): DistfileSource {
    const table = this.mirrors.get(pkg.repo) ?? NO_MIRRORS;
    const { uris: raw, lifts } = urisOf(value);
    const uris: DistfileUri[] = [];
    const seen = new Set<string>();
    raw.forEach((uri, i) => {
      const lift = lifts?.[i];
      // mirror://gentoo is the caller's (its own mirrors); unknown names were reported when indexed.
      const urls = splitMirrorUri(uri)?.name === 'gentoo' ? [uri] : expandMirrorUri(uri, table);
      for (const url of urls ?? []) {
        if (seen.has(url)) continue;
        seen.add(url);
        uris.push(lift === undefined ? { url } : { url, lifts: lift });
      }
    });
    return { repo: pkg.repo, cpv: pkg.cpv, uris, restrict: pkg.restrict };
  }
}

function distinctRepos(owners: readonly ManifestOwner[]): string[] {
  return [...new Set(owners.map((owner) => owner.repo))];
}

/** One entry per distinct DIST line, in the order of their first owner (repository order). */
function distinctLines(
  owners: readonly ManifestOwner[],
  dists: Shared<DistHandle>,
  store: DistStore,
): ManifestEntry[] {
  const byLine = new Map<string, { handle: DistHandle; owners: ManifestOwner[] }>();
  owners.forEach((owner, i) => {
    const handle = valueAt(dists, i);
    const key = store.key(handle);
    const same = byLine.get(key);
    if (same) same.owners.push(owner);
    else byLine.set(key, { handle, owners: [owner] });
  });
  return [...byLine.values()].map((line) => ({
    repos: distinctRepos(line.owners),
    ...store.unpack(line.handle),
  }));
}
