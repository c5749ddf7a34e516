import { type PackageRecord, type UrisValue, urisOf } from './distfile-records.js';
import type { FileMapBuilder } from './file-map-builder.js';
import { forEachPackedFile, readPackedSrcUri, utf8Packed } from './md5-cache-read.js';
import type { RepositoryConfig, RepositoryLogger } from './repos.js';
import { splitMirrorUri } from './thirdpartymirrors.js';

/**
 * Turns one md5-cache entry into a package record and the distfiles it names, warning about
 * what it cannot take: a SRC_URI or RESTRICT that does not parse, a mirror:// URI naming no
 * file or an unknown mirror (each unknown mirror once, for as long as the index lives).
 */
export class PackageEntries {
  private readonly unknownMirrors = new Set<string>();

  constructor(private readonly logger: RepositoryLogger) {}

  /**
   * Adds the distfiles of one md5-cache entry, as the reader thread packs it (see md5Packer),
   * to `builder`; returns its package, undefined when it names no distfile or its SRC_URI does
   * not parse.
   */
  addEntry(
    repo: RepositoryConfig,
    category: string,
    pf: string,
    packed: Buffer,
    builder: FileMapBuilder,
  ): PackageRecord | undefined {
    const data = utf8Packed(packed);
    const read = readPackedSrcUri(data);
    if (read === undefined) return undefined;
    const cpv = `${category}/${pf}`;
    if (read.error !== undefined) {
      this.logger.warn(`${cpv}::${repo.name} skipped: its SRC_URI does not parse: ${read.error}`);
      return undefined;
    }
    if (read.restrictError !== undefined) {
      this.logger.warn(
        `${cpv}::${repo.name}: RESTRICT does not parse (${read.restrictError}); taking every word of it`,
      );
    }
    const pkg: PackageRecord = { repo: repo.name, category, cpv, restrict: read.restrict };
    forEachPackedFile(data, read.files, builder, (start, end, uris, prefixed) => {
      builder.addSourceBytes(data, start, end - start, pkg, uris);
      // A prefix made whole only when it needs checking.
      if (!prefixed) this.checkMirrors(uris, pkg, repo);
      else if ((uris as string).startsWith('mirror://'))
        this.checkMirror(`${uris}${data.toString('utf8', start, end)}`, pkg, repo);
    });
    return pkg;
  }

  private checkMirrors(value: UrisValue, pkg: PackageRecord, repo: RepositoryConfig): void {
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
