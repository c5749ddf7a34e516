import { Injectable } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { Digests } from '../cache/digests.js';
import type { PartialFile } from '../cache/partial-file.js';
import { Clock } from '../common/clock.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { MirrorBalancer, type MirrorLease } from '../mirrors/mirror-balancer.service.js';
import { MirrorLayouts } from '../mirrors/mirror-layouts.service.js';
import { describeUpstreamError } from '../mirrors/upstream-client.service.js';
import type { Fill, Upstream } from './fill.js';
import { DownloadSlot, FillSlots, RetryLater, retryAfterSeconds } from './fill-slots.js';
import { FillVerdicts } from './fill-verdicts.js';
import { type Attempt, SourceAttempt } from './source-attempt.js';

/** Goes through the sources at most this often: again after the index taught the fill its Manifest entry, or to fetch the file whole from one source. */
const MAX_PASSES = 4;

/**
 * What a pass through the sources came to: the fill ended, no source could do it (`busy`: and a
 * mirror that might have it stayed at its concurrency limit all along), or go through them again.
 */
type PassOutcome = 'done' | 'exhausted' | 'busy' | 'again';

/**
 * The upstream download of one fill (FillService keeps the fills, one per name): waits for a
 * download slot, goes through the plan's sources (mirrors best first) until one delivers the
 * verified file, and gives up with what was tried when none does. SourceAttempt does each
 * attempt against one source; FillVerdicts decides what becomes of the bytes.
 */
@Injectable()
export class FillDownload {
  private readonly slots: FillSlots;
  /** Fills hashing and committing: as many as may download (see DownloadSlot). */
  private readonly settling: FillSlots;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly layouts: MirrorLayouts,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly attempts: SourceAttempt,
    private readonly verdicts: FillVerdicts,
  ) {
    this.slots = new FillSlots(config.maxFills, {
      maxQueue: config.maxFills * 16,
      waitMs: config.queueWaitMs,
    });
    this.settling = new FillSlots(config.maxFills);
  }

  async run(name: string, fill: Fill): Promise<void> {
    const slot = new DownloadSlot(this.slots, this.settling, this.metrics);
    await slot.take();
    fill.opening = this.store.createPartial(name);
    fill.opening.catch(() => undefined);
    const tried: string[] = [];
    try {
      for (let pass = 1; ; pass++) {
        const outcome = await this.pass(name, fill, slot, tried);
        if (outcome === 'done') return;
        // Not "not found": a busy mirror may have it. The client may try again, or elsewhere.
        if (outcome === 'busy' && !fill.partial) {
          throw new RetryLater(
            `Busy: every mirror that may have ${name} is at its concurrency limit`,
            retryAfterSeconds(this.config.queueWaitMs),
          );
        }
        if (outcome !== 'again' || pass >= MAX_PASSES) break;
      }
      await this.verdicts.giveUp(name, fill, tried);
    } finally {
      slot.end();
      fill.opening?.then(
        (unused) => {
          unused.fail(new Error(`${name}: no source answered`)); // closes it
          return this.store.discard(unused);
        },
        () => undefined,
      );
    }
  }

  /** The plan's sources in order (mirrors best first), until one delivers the verified file. */
  private async pass(name: string, fill: Fill, slot: DownloadSlot, tried: string[]): Promise<PassOutcome> {
    const excluded = new Set<string>();
    const plan = fill.plan;
    let busy = false;
    // The index, built meanwhile, may give the fill other sources: the next pass takes them.
    const next = (outcome: 'next' | PassOutcome) =>
      outcome === 'next' && fill.plan !== plan ? 'again' : outcome;
    for (const step of plan.steps) {
      // A slot before a lease, always: a fill never holds a mirror while it waits for a slot.
      await slot.take();
      if (step.kind === 'uri') {
        const outcome = next(await this.tryUri(step.url, name, fill, slot, tried));
        if (outcome !== 'next') return outcome;
        continue;
      }
      for (
        let lease = await this.nextMirror(name, excluded);
        lease;
        lease = await this.nextMirror(name, excluded)
      ) {
        excluded.add(lease.mirror);
        const outcome = next(await this.tryMirror(lease, name, fill, slot, tried));
        if (outcome !== 'next') return outcome;
        await slot.take();
      }
      if (this.balancer.busy(name, excluded)) {
        busy = true;
        tried.push(`mirrors: at their concurrency limit for ${this.config.queueWaitMs} ms`);
      }
    }
    return busy ? 'busy' : 'exhausted';
  }

  private async tryMirror(lease: MirrorLease, name: string, fill: Fill, slot: DownloadSlot, tried: string[]) {
    const mirror = lease.mirror;
    let url: string;
    try {
      url = await this.layouts.urlOf(mirror, name);
    } catch (error) {
      lease.release();
      const reason = describeUpstreamError(error);
      this.balancer.recordFailure(mirror, reason);
      tried.push(`${new URL(mirror).host}: ${reason}`);
      return 'next';
    }
    const upstream = { key: mirror, url, mirror: true };
    return this.settle(upstream, name, fill, await this.attempt(lease, upstream, name, fill, slot), tried);
  }

  private async tryUri(url: string, name: string, fill: Fill, slot: DownloadSlot, tried: string[]) {
    let lease: MirrorLease | undefined;
    try {
      lease = this.balancer.acquireHost(url, name);
    } catch {
      tried.push(`${url}: not a URL`); // an overlay's typo must not end the fill
      return 'next';
    }
    if (!lease) {
      tried.push(`${url}: skipped, ${this.balancer.hostRefusal(url, name) ?? 'busy'}`);
      return 'next';
    }
    const upstream = { key: lease.mirror, url, mirror: false };
    return this.settle(upstream, name, fill, await this.attempt(lease, upstream, name, fill, slot), tried);
  }

  /**
   * One attempt against a leased source. The source and the download slot are given back as
   * soon as the transfer is over: hashing and committing the file (which can wait behind other
   * fills' hashing) need neither, and holding them made other misses queue meanwhile. A failed
   * attempt keeps the download slot for the next source.
   */
  private async attempt(
    lease: MirrorLease,
    upstream: Upstream,
    name: string,
    fill: Fill,
    slot: DownloadSlot,
  ): Promise<Attempt> {
    let attempt: Attempt;
    try {
      attempt = await this.attempts.run(upstream, name, fill);
    } finally {
      lease.release();
    }
    if (attempt.kind === 'complete') await slot.settle();
    return attempt;
  }

  /** After one attempt: on to the next source, or what the pass came to. */
  private async settle(
    upstream: Upstream,
    name: string,
    fill: Fill,
    attempt: Attempt,
    tried: string[],
  ): Promise<'next' | PassOutcome> {
    const where = upstream.mirror ? new URL(upstream.key).host : upstream.url;
    if (attempt.kind === 'abandoned') {
      await this.verdicts.abandon(fill, attempt.reason);
      return 'done';
    }
    if (attempt.kind === 'failed') {
      tried.push(`${where}: ${attempt.reason}`);
      if (fill.partial) this.metrics.failovers.inc();
      return 'next';
    }
    const partial = fill.partial as PartialFile;
    let digests: Digests;
    try {
      digests = await partial.end();
    } catch (error) {
      await this.verdicts.abandon(fill, `cannot hash the download: ${(error as Error).message}`);
      return 'done';
    }
    const mismatch = await this.verdicts.mismatch(name, fill, digests);
    if (!mismatch) {
      partial.markVerified();
      await this.verdicts.commit(fill, partial, digests, upstream);
      return 'done';
    }
    tried.push(`${where}: ${mismatch}`);
    const mixed = await this.verdicts.reject(fill, partial, mismatch);
    return mixed ? 'again' : 'next';
  }

  /** The next mirror to ask; waits (bounded) when the usable ones are only at their concurrency limit. */
  private async nextMirror(name: string, excluded: ReadonlySet<string>): Promise<MirrorLease | undefined> {
    const deadline = this.clock.now() + this.config.queueWaitMs;
    let lease = this.balancer.acquire(name, excluded);
    while (!lease && this.balancer.busy(name, excluded) && this.clock.now() < deadline) {
      await this.balancer.released(Math.max(1, deadline - this.clock.now()));
      lease = this.balancer.acquire(name, excluded);
    }
    return lease;
  }
}
