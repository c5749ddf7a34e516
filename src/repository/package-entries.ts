import { type PackageRecord, type UrisValue, urisOf } from './distfile-records.js';
import { readPackedMd5Cache } from './md5-cache-read.js';
import type { RepositoryConfig, RepositoryLogger } from './repos.js';
import { splitMirrorUri } from './thirdpartymirrors.js';

/** One md5-cache entry as the index keeps it. */
export interface ParsedEntry {
  /** Undefined when the entry names no distfile, or its SRC_URI does not parse. */
  pkg: PackageRecord | undefined;
  /** Each distfile's name with its URIs, at the same index. */
  files: { names: string[]; uris: UrisValue[] };
}

const NO_FILES = { names: [], uris: [] };

/**
 * Turns one md5-cache entry into a package record and the distfiles it names, warning about
 * what it cannot take: a SRC_URI or RESTRICT that does not parse, a mirror:// URI naming no
 * file or an unknown mirror (each unknown mirror once, for as long as the index lives).
 */
export class PackageEntries {
  private readonly unknownMirrors = new Set<string>();

  constructor(private readonly logger: RepositoryLogger) {}

  /** `data`: the entry as the reader thread packs it (see md5Packer). */
  parseEntry(repo: RepositoryConfig, category: string, pf: string, data: Buffer): ParsedEntry {
    const read = readPackedMd5Cache(data);
    if (read === undefined) return { pkg: undefined, files: NO_FILES };
    const cpv = `${category}/${pf}`;
    if (read.error !== undefined) {
      this.logger.warn(`${cpv}::${repo.name} skipped: its SRC_URI does not parse: ${read.error}`);
      return { pkg: undefined, files: NO_FILES };
    }
    if (read.restrictError !== undefined) {
      this.logger.warn(
        `${cpv}::${repo.name}: RESTRICT does not parse (${read.restrictError}); taking every word of it`,
      );
    }
    const pkg: PackageRecord = { repo: repo.name, category, cpv, restrict: read.restrict };
    return { pkg, files: read };
  }

  checkMirrors(value: UrisValue, pkg: PackageRecord, repo: RepositoryConfig): void {
    // Most values are one URI: no list is made for it (this runs for every file of every entry).
    if (typeof value === 'string') this.checkMirror(value, pkg, repo);
    else if (value !== undefined) for (const uri of urisOf(value).uris) this.checkMirror(uri, pkg, repo);
  }

  private checkMirror(uri: string, pkg: PackageRecord, repo: RepositoryConfig): void {
    if (!uri.startsWith('mirror://')) return;
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
