import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type CachedFile, CacheStore } from '../cache/cache-store.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import { manifestMismatch } from '../repository/manifest-check.js';
import type { RefreshedEvent } from '../repository/src-uri-resolver.service.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';

/** Files compared between two turns of the event loop during a background re-check. */
const RECHECK_BATCH = 500;

/**
 * Cached files must still be what the Manifest describes: a file committed before the index
 * knew it, or whose Manifest entry changed (a re-released tarball), is quarantined and becomes
 * a miss. Compares the digests recorded at commit with the index (strings, no hashing), once
 * per file and index generation; after each refresh the changed names are re-checked in the
 * background.
 */
@Injectable()
export class CacheVerifier implements OnModuleInit {
  private readonly logger = new Logger(CacheVerifier.name);
  /** The index generation each file was last found valid in. */
  private readonly checked = new WeakMap<CachedFile, number>();

  constructor(
    private readonly store: CacheStore,
    private readonly resolver: SrcUriResolver,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.resolver.onRefreshed((event) => {
      this.metrics.indexDistfiles.set(event.snapshot.size);
      return this.recheck(event);
    });
  }

  /** The cached file of `name` if it may be served; undefined when not cached or just quarantined. */
  cachedFile(name: string): CachedFile | undefined {
    const file = this.store.get(name);
    const snapshot = this.resolver.snapshot;
    if (!file || !snapshot || this.checked.get(file) === snapshot.generation) return file;
    const mismatch = manifestMismatch(file.digests, snapshot.lookup(name));
    if (!mismatch) {
      this.checked.set(file, snapshot.generation);
      return file;
    }
    this.metrics.verificationFailures.inc({ where: 'cache' });
    this.store
      .quarantine(name, `cached copy: ${mismatch}`)
      .catch((error: Error) => this.logger.error(`${name}: could not quarantine: ${error.message}`));
    return undefined;
  }

  private async recheck({ full, changedNames }: RefreshedEvent): Promise<void> {
    const names = full ? [...this.store.names()] : [...changedNames];
    let quarantined = 0;
    for (let i = 0; i < names.length; i++) {
      if (i % RECHECK_BATCH === RECHECK_BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
      if (this.store.get(names[i]) && !this.cachedFile(names[i])) quarantined += 1;
    }
    if (quarantined > 0) this.logger.warn(`${quarantined} cached file(s) no longer match their Manifest`);
  }
}
