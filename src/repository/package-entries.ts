import { filesOf } from './distfile-parse.js';
import {
  NO_RESTRICT,
  type PackageRecord,
  type RestrictFlags,
  restrictFlagsOf,
  type UrisValue,
  urisOf,
} from './distfile-records.js';
import { readMd5CacheFields } from './md5-cache.js';
import type { RepositoryConfig, RepositoryLogger } from './repos.js';
import { parseRestrict, parseSrcUri, type SrcUriItem, tokenizeDepString } from './src-uri.js';
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

  parseEntry(repo: RepositoryConfig, category: string, pf: string, data: Buffer): ParsedEntry {
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
}
