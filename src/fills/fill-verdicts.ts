import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { Digests } from '../cache/digests.js';
import { sameRange } from '../cache/file-ranges.js';
import type { PartialFile } from '../cache/partial-file.js';
import { Metrics } from '../metrics/metrics.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { manifestMismatch } from '../repository/manifest-check.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import type { Fill, Upstream } from './fill.js';
import { RetryLater } from './fill-slots.js';
import { planSources } from './source-plan.js';

/** Thrown when no source has the file; its message lists what was tried. */
export class NotFoundUpstream extends NotFoundException {
  constructor(
    name: string,
    readonly tried: string[],
  ) {
    super(`${name} not found upstream (tried ${tried.join('; ') || 'no source'})`);
  }
}

/**
 * What becomes of the bytes of a fill once a source delivered them all: checked against every
 * Manifest entry for the name (after the index is built, for a fill that started before),
 * then committed, or rejected with the right source blamed; and how a fill that cannot finish
 * ends, so that every fill ends committed or failed.
 */
@Injectable()
export class FillVerdicts {
  private readonly logger = new Logger(FillVerdicts.name);

  constructor(
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly metrics: Metrics,
    private readonly resolver: SrcUriResolver,
  ) {}

  /**
   * Why these bytes are not the file; undefined when a Manifest entry matches or none knows the
   * file. A fill that started while the index was building waits for it here first.
   */
  async mismatch(name: string, fill: Fill, digests: Digests): Promise<string | undefined> {
    if (fill.entryPending) {
      await this.resolver.whenReady();
      this.learnEntry(name, fill);
    }
    return manifestMismatch(digests, fill.entry);
  }

  /** The index is built: what it says about a fill that started before; an unknown file's responses may end. */
  learnEntry(name: string, fill: Fill): void {
    if (!fill.entryPending) return;
    fill.entryPending = false;
    fill.entry = this.resolver.lookup(name);
    // Known: its own sources from now on. Unknown: the plan (the mirrors) stands.
    const plan = fill.entry ? planSources(name, fill.entry) : undefined;
    if (plan && !plan.refusal) fill.plan = plan;
    if (!fill.verifiable) fill.partial?.stopHoldingBack();
  }

  async commit(fill: Fill, partial: PartialFile, digests: Digests, upstream: Upstream): Promise<void> {
    try {
      await this.store.commit(partial, digests);
    } catch (error) {
      await this.abandon(fill, `could not be committed: ${(error as Error).message}`);
      return;
    }
    this.metrics.fills.inc({ result: 'committed' });
    this.logger.log(`${partial.name}: cached ${partial.written} bytes from ${upstream.url}`);
    await this.blameSuspects(fill);
  }

  /**
   * The whole file arrived but no Manifest entry describes it: its clients are cut off (they
   * never got their last byte) and the bytes go to quarantine. From a single source, that
   * source is blamed; from several, nobody yet: true, and each source must now deliver the
   * whole file alone.
   */
  async reject(fill: Fill, partial: PartialFile, mismatch: string): Promise<boolean> {
    const name = partial.name;
    const sources = fill.contributions.sources();
    const ranges = fill.contributions.ranges();
    this.metrics.fills.inc({ result: 'rejected' });
    this.metrics.verificationFailures.inc({ where: 'fill' });
    partial.fail(new Error(`${name}: ${mismatch}`));
    fill.restart();
    const path = await this.store
      .quarantinePartial(partial, `from ${sources.join(' and ')}: ${mismatch}`)
      .catch(() => this.store.discard(partial));
    if (sources.length === 1) {
      this.balancer.recordBadFile(sources[0], name);
      return false;
    }
    this.logger.warn(
      `${name}: bytes from ${sources.join(' and ')} fail the check; fetching it whole from one source`,
    );
    if (typeof path === 'string') fill.suspects.push({ path, ranges });
    fill.wholeFromOneSource = true;
    return true;
  }

  /** Once a whole file passed: each source of an earlier mixed failure whose bytes differ from it is blamed. */
  async blameSuspects(fill: Fill): Promise<void> {
    const file = fill.partial ? this.store.get(fill.partial.name) : undefined;
    if (!file) return;
    for (const suspect of fill.suspects) {
      for (const range of suspect.ranges) {
        const same = await sameRange(suspect.path, file.path, range.from, range.to).catch(() => true);
        if (same) continue;
        this.balancer.recordBadFile(range.source, file.name);
        this.logger.warn(`${file.name}: ${range.source} sent wrong bytes in ${range.from}-${range.to - 1}`);
      }
    }
  }

  /** The bytes were fine (or never checked) but the cache could not take them: fail the fill, blame no source. */
  async abandon(fill: Fill, reason: string): Promise<void> {
    const partial = fill.partial as PartialFile;
    this.logger.error(`${partial.name}: ${reason}`);
    this.metrics.fills.inc({ result: 'failed' });
    await this.store.discard(partial);
    partial.fail(new Error(`${partial.name}: ${reason}`));
  }

  async giveUp(name: string, fill: Fill, tried: string[]): Promise<void> {
    if (!fill.partial) {
      this.logger.warn(`${name}: not found upstream (${tried.join('; ')})`);
      this.metrics.fills.inc({ result: 'not_found' });
      throw new NotFoundUpstream(name, tried);
    }
    this.logger.warn(`${name}: fill failed at ${fill.partial.written} bytes (${tried.join('; ')})`);
    this.metrics.fills.inc({ result: 'failed' });
    await this.store.discard(fill.partial);
    fill.partial.fail(new Error(`${name}: no source could finish it (${tried.join('; ')})`));
  }

  /** Whatever threw: waiting requests get the error, readers are cut, the temporary file goes. */
  async failHard(name: string, fill: Fill, error: Error): Promise<void> {
    fill.fail(error);
    const partial = fill.partial;
    if (!partial || partial.status === 'committed' || partial.status === 'failed') return;
    if (!(error instanceof NotFoundException) && !(error instanceof RetryLater)) {
      this.logger.error(`${name}: fill failed: ${error.stack ?? error.message}`);
      this.metrics.fills.inc({ result: 'failed' });
    }
    partial.fail(error);
    await this.store.discard(partial).catch(() => undefined);
  }
}
