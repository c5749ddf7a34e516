import { Injectable, Logger } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { PartialFile } from '../cache/partial-file.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { Metrics, type UpstreamRequestMetrics } from '../metrics/metrics.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import {
  type BulkResponse,
  describeUpstreamError,
  UpstreamClient,
} from '../mirrors/upstream-client.service.js';
import type { Fill, Upstream } from './fill.js';
import { RetryLater } from './fill-slots.js';
import { copyBodyToPartial, DiskWriteError, OverrunError } from './partial-file-sink.js';
import { byteLimit, judgeResponse, lastModified } from './response-checks.js';

/**
 * How one attempt ended: `complete` — every byte of the file is in the partial file (not yet
 * checked); `failed` — try the next source; `abandoned` — the cache cannot take the file, no
 * source can help.
 */
export type Attempt =
  | { readonly kind: 'complete' }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'abandoned'; readonly reason: string };

class SlowUpstream extends Error {}

/**
 * One attempt against one source: asks it for the file (from 0, or from the end of the bytes
 * already on disk), checks the response before a byte of it reaches a client, writes the body
 * into the fill's partial file and blames the source for what it did wrong.
 */
@Injectable()
export class SourceAttempt {
  private readonly logger = new Logger(SourceAttempt.name);

  constructor(
    private readonly config: PortcacheConfig,
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly upstream: UpstreamClient,
    private readonly metrics: Metrics,
  ) {}

  async run(upstream: Upstream, name: string, fill: Fill): Promise<Attempt> {
    const { key } = upstream;
    if (fill.wholeFromOneSource && fill.partial && fill.partial.written > 0) {
      await fill.partial.restartFrom(0);
      fill.contributions.truncate(0);
    }
    const partial = fill.partial;
    const offset = partial?.written ?? 0;
    const started = performance.now();
    const measured = this.metrics.upstreamRequest(key, upstream.mirror);
    let response: BulkResponse;
    try {
      response = await this.upstream.getBulk(upstream.url, { from: offset });
    } catch (error) {
      measured.ended(true);
      return this.failed(key, name, describeUpstreamError(error));
    }
    measured.responded();
    // A server error is no sign of health: only answers about the file reset the failure streak.
    if (response.statusCode < 500) this.balancer.recordResponse(key, performance.now() - started);
    if (response.statusCode === 404 || response.statusCode === 410) {
      this.balancer.recordNotFound(key, name);
      await dump(response);
      measured.ended();
      return { kind: 'failed', reason: `HTTP ${response.statusCode}` };
    }
    const verdict = judgeResponse(name, response, {
      offset,
      expectedSize: partial?.expectedSize,
      manifestSizes: fill.manifestSizes,
    });
    if (verdict.use === 'refuse') {
      await dump(response);
      measured.ended(true);
      if (!verdict.badFile) return this.failed(key, name, verdict.reason);
      return this.badFile(upstream, name, verdict.reason);
    }

    let target = partial;
    let compareUntil = 0;
    if (!target) {
      target = await this.openPartial(name, fill, response).catch((error: unknown) => {
        measured.ended();
        throw error;
      });
      target.expectedSize = verdict.length ?? soleSize(fill.manifestSizes);
      target.holdBackLastByte = fill.verifiable;
      target.lastModified = lastModified(response);
      fill.announce(target);
    } else if (verdict.use === 'replace') {
      // Another length is another file: its clients are cut off and it starts over.
      this.logger.warn(
        `${name}: ${upstream.url} has it with another length (${verdict.length}); clients restarted`,
      );
      await target.restartFrom(0);
      fill.contributions.truncate(0);
      target.expectedSize = verdict.length;
    } else if (verdict.use === 'from-start' && offset > 0) {
      // The source cannot resume: it re-sends from 0 and the first `offset` bytes are compared.
      compareUntil = offset;
    }
    target.expectedSize ??= verdict.length;
    return this.transfer(upstream, name, response, target, compareUntil, fill, measured);
  }

  private async openPartial(name: string, fill: Fill, response: BulkResponse): Promise<PartialFile> {
    const opening = fill.opening ?? this.store.createPartial(name);
    fill.opening = undefined;
    try {
      return await opening;
    } catch (error) {
      await dump(response);
      this.logger.error(`${name}: cannot create a temporary file: ${(error as Error).message}`);
      throw new RetryLater(`${name}: the cache cannot take new files right now`, 60);
    }
  }

  private async transfer(
    upstream: Upstream,
    name: string,
    response: BulkResponse,
    partial: PartialFile,
    compareUntil: number,
    fill: Fill,
    measured: UpstreamRequestMetrics,
  ): Promise<Attempt> {
    const { key } = upstream;
    fill.source = upstream;
    const startBytes = partial.written;
    fill.contributions.start(key, startBytes);
    const started = performance.now();
    const stopSlowWatch = this.watchRate(key, name, response, partial);
    try {
      await copyBodyToPartial(response.body, partial, {
        compareUntil,
        limit: byteLimit(partial.expectedSize, fill.manifestSizes),
        onDifferent: (position) => {
          fill.contributions.start(key, position);
          this.logger.warn(
            `${name}: ${upstream.url} has different bytes from ${position} on; clients restarted`,
          );
        },
      });
      fill.contributions.reach(partial.written);
      if (partial.expectedSize !== undefined && partial.written !== partial.expectedSize) {
        throw new Error(`sent ${partial.written} of ${partial.expectedSize} bytes`);
      }
    } catch (error) {
      fill.contributions.reach(partial.written);
      this.countTransfer(upstream, partial.written - startBytes, started);
      // Our disk and leaving a slow mirror for a faster one are not the upstream's failures.
      measured.ended(!(error instanceof DiskWriteError || error instanceof SlowUpstream));
      if (error instanceof DiskWriteError) {
        this.logger.error(`${name}: ${error.message}`);
        return { kind: 'abandoned', reason: error.message };
      }
      if (error instanceof OverrunError) {
        // Its bytes belong to another file: none of them stay.
        await partial.restartFrom(startBytes);
        fill.contributions.truncate(startBytes);
        return this.badFile(upstream, name, error.message);
      }
      if (error instanceof SlowUpstream) {
        this.logger.warn(`${name}: leaving ${upstream.url}: ${error.message}`);
        return { kind: 'failed', reason: error.message };
      }
      return this.failed(key, name, describeUpstreamError(error));
    } finally {
      stopSlowWatch();
    }
    this.countTransfer(upstream, partial.written - startBytes, started);
    measured.ended();
    return { kind: 'complete' };
  }

  /**
   * Aborts the body when, over a whole stall-timeout window, it delivered less than
   * PORTCACHE_MIN_RATE while another mirror could take over.
   */
  private watchRate(mirror: string, name: string, response: BulkResponse, partial: PartialFile): () => void {
    const minRate = this.config.minRate;
    if (minRate <= 0) return () => undefined;
    const windowMs = this.config.stallTimeoutMs;
    let lastBytes = partial.written;
    const timer = setInterval(() => {
      const rate = ((partial.written - lastBytes) * 1000) / windowMs;
      lastBytes = partial.written;
      if (rate < minRate && this.balancer.hasAlternative(mirror, name, new Set())) {
        response.body.destroy(
          new SlowUpstream(`${Math.round(rate)} B/s, below PORTCACHE_MIN_RATE (${minRate} B/s)`),
        );
      }
    }, windowMs);
    return () => clearInterval(timer);
  }

  /** The source has another file than the one asked for: skipped for this name, not broken. */
  badFile(upstream: Upstream, name: string, reason: string): Attempt {
    this.balancer.recordBadFile(upstream.key, name);
    this.logger.warn(`${name}: ${upstream.url} has another file: ${reason}`);
    return { kind: 'failed', reason };
  }

  private failed(mirror: string, name: string, reason: string): Attempt {
    this.balancer.recordFailure(mirror, reason);
    this.logger.warn(`${name}: ${mirror} failed: ${reason}`);
    return { kind: 'failed', reason };
  }

  private countTransfer(upstream: Upstream, bytes: number, startedMs: number): void {
    this.balancer.recordTransfer(upstream.key, bytes, (performance.now() - startedMs) / 1000);
    this.metrics.countUpstream(upstream.key, bytes, upstream.mirror);
  }
}

function dump(response: BulkResponse): Promise<unknown> {
  return response.body.dump().catch(() => undefined);
}

/** The one length every Manifest gives, if there is exactly one. */
function soleSize(sizes: ReadonlySet<number>): number | undefined {
  return sizes.size === 1 ? [...sizes][0] : undefined;
}
