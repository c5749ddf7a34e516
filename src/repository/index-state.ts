import type { DistStore } from './dist-store.js';
import type { ManifestOwner, PackageRecord } from './distfile-records.js';
import type { FileMapBuilder } from './file-map-builder.js';
import type { RepositoryConfig } from './repos.js';

// What DistfileIndex remembers of each repository between refreshes, so that a refresh re-reads
// only what changed, and what a refresh does with what it forgets.

export interface RepoState {
  readonly config: RepositoryConfig;
  readonly timestamp: string | undefined;
  readonly categories: ReadonlyMap<string, CategoryState>;
}

export interface CategoryState {
  readonly ctimeMs: number;
  readonly entries: ReadonlyMap<string, EntryState>;
  readonly manifests: ReadonlyMap<string, ManifestState>;
}

export interface EntryState {
  readonly ctimeMs: number;
  /** Undefined when the entry names no distfile. */
  readonly pkg: PackageRecord | undefined;
}

export interface ManifestState {
  /** NaN: the package has no Manifest. */
  readonly ctimeMs: number;
  readonly owner: ManifestOwner | undefined;
}

/** What a refresh learned, applied to the next file map as it goes. */
export interface Changes {
  readonly builder: FileMapBuilder;
  /** Where the DIST values read go. */
  readonly dists: DistStore;
  filesRead: number;
}

export const NO_MANIFEST: ManifestState = { ctimeMs: Number.NaN, owner: undefined };

/** Takes what a category's entries and Manifests gave out of the next file map. */
export function dropCategory(category: CategoryState, changes: Changes): void {
  for (const entry of category.entries.values()) {
    if (entry.pkg) changes.builder.removePackage(entry.pkg);
  }
  for (const manifest of category.manifests.values()) {
    if (manifest.owner) changes.builder.removeOwner(manifest.owner);
  }
}
