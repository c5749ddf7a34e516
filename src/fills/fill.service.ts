import { type BeforeApplicationShutdown, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { DigestAccumulator } from '../cache/digests.js';
import type { PartialFile } from '../cache/partial-file.js';
import { Clock } from '../common/clock.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { MirrorBalancer, type MirrorLease } from '../mirrors/mirror-balancer.service.js';
import { MirrorLayouts } from '../mirrors/mirror-layouts.service.js';
import {
  describeUpstreamError,
  headerValue,
  UpstreamClient,
  type UpstreamResponse,
} from '../mirrors/upstream-client.service.js';
import type { DistfileEntry } from '../repository/distfile-snapshot.js';
import { manifestMismatch } from '../repository/manifest-check.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { parseContentRange } from './content-range.js';
import { FillSlots, RetryLater } from './fill-slots.js';
import { copyBodyToPartial, DiskWriteError } from './partial-file-sink.js';
import { planSources, type SourcePlan } from './source-plan.js';

/** Thrown when no source has the file; its message lists what was tried. */
export class NotFoundUpstream extends NotFoundException {
  constructor(
    name: string,
    readonly tried: string[],
  ) {
    super(`${name} not found upstream (tried ${tried.join('; ') || 'no source'})`);
  }
}

/** The file must not be fetched (RESTRICT=fetch); the message tells the admin what to do. */
export class FetchRestricted extends NotFoundException {}

/** One running fill: `ready` resolves with the partial file once a source answered. */
class Fill {
  partial: PartialFile | undefined;
  /** Where the bytes come from now. */
  source: Upstream | undefined;
  /**
   * The temporary file for the first source that answers, opened while its request is on the
   * way: a miss's first byte then does not wait for open() (about 0.5 ms here).
   */
  opening: Promise<PartialFile> | undefined;
  ready!: Promise<PartialFile>;
  private resolve!: (partial: PartialFile) => void;
  private reject!: (error: Error) => void;

  constructor(
    readonly plan: SourcePlan,
    readonly entry: DistfileEntry | undefined,
  ) {
    this.renew();
  }

  announce(partial: PartialFile): void {
    this.partial = partial;
    this.resolve(partial);
  }

  fail(error: Error): void {
    this.reject(error);
  }

  /** The bytes so far were thrown away: requests from now on wait for the next source. */
  restart(): void {
    this.partial = undefined;
    this.renew();
  }

  private renew(): void {
    this.ready = new Promise<PartialFile>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.ready.catch(() => undefined);
  }
}

/** Where one attempt fetches from: a mirror (its layout decides the path) or a SRC_URI. */
export interface Upstream {
  /** The balancer's key: mirror base URL or the SRC_URI's origin. */
  readonly key: string;
  readonly url: string;
  /** A configured mirror (else a SRC_URI host). */
  readonly mirror: boolean;
}

class SlowUpstream extends Error {}

const SHUTDOWN_WAIT_MS = 3000;

/** How one attempt at one mirror ended: `final` means no other mirror is to be tried. */
type Attempt = { final: true } | { final: false; reason: string };

/**
 * Single-flight fills: the first miss of a file starts one upstream download into a
 * PartialFile; every request for the same file while it runs reads that same partial file.
 * When a mirror fails, stalls or crawls mid-body, the fill resumes on the next mirror from
 * the current offset.
 */
@Injectable()
export class FillService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(FillService.name);
  private readonly fills = new Map<string, Fill>();
  private readonly runs = new Set<Promise<void>>();
  private readonly slots: FillSlots;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly layouts: MirrorLayouts,
    private readonly upstream: UpstreamClient,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly resolver: SrcUriResolver,
  ) {
    this.slots = new FillSlots(config.maxFills, config.maxFills * 16, config.queueWaitMs);
  }

  /** The partial file of `name` once its source answered; rejects with NotFoundUpstream, FetchRestricted or RetryLater. */
  join(name: string): Promise<PartialFile> {
    const running = this.fills.get(name);
    if (running) return running.ready;
    let planned: { entry: DistfileEntry | undefined; plan: SourcePlan };
    try {
      planned = this.plan(name);
    } catch (error) {
      return Promise.reject(error);
    }
    const fill = new Fill(planned.plan, planned.entry);
    this.fills.set(name, fill);
    const run = this.run(name, fill)
      .catch((error: Error) => fill.fail(error))
      .finally(() => {
        this.fills.delete(name);
        this.runs.delete(run);
      });
    this.runs.add(run);
    return fill.ready;
  }

  /** Lets fills that are committing finish (upstream requests are aborted by then), within a bound. */
  async beforeApplicationShutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
    });
    await Promise.race([Promise.allSettled([...this.runs]), bound]);
    clearTimeout(timer);
  }

  /** The partial file of a running fill whose source already answered (HEAD answers from it). */
  running(name: string): PartialFile | undefined {
    return this.fills.get(name)?.partial;
  }

  /**
   * The Manifest size of a file a GET would fetch (HEAD answers with it without a fill); throws
   * FetchRestricted for a file that will not be fetched.
   */
  knownSize(name: string): number | undefined {
    const { entry } = this.plan(name);
    return entry?.verifiable ? entry.size : undefined;
  }

  /** What the index says about `name` and where to fetch it; throws FetchRestricted instead of a plan that refuses. */
  private plan(name: string): { entry: DistfileEntry | undefined; plan: SourcePlan } {
    const entry = this.resolver.lookup(name);
    const plan = planSources(name, entry);
    if (plan.refusal) throw new FetchRestricted(plan.refusal);
    return { entry, plan };
  }

  /** Where the running fill of `name` reads from now (it has the file). */
  sourceOf(name: string): Upstream | undefined {
    return this.fills.get(name)?.source;
  }

  isFilling(name: string): boolean {
    return this.fills.has(name);
  }

  private async run(name: string, fill: Fill): Promise<void> {
    this.metrics.fillsQueued.inc();
    const releaseSlot = await this.slots.acquire().finally(() => this.metrics.fillsQueued.dec());
    this.metrics.fillsActive.inc();
    fill.opening = this.store.createPartial(name);
    fill.opening.catch(() => undefined);
    const tried: string[] = [];
    try {
      for (const step of fill.plan.steps) {
        const done =
          step.kind === 'mirrors'
            ? await this.tryMirrors(name, fill, tried)
            : await this.tryUri(step.url, name, fill, tried);
        if (done) return;
      }
      if (!fill.partial) {
        this.logger.warn(`${name}: not found upstream (${tried.join('; ')})`);
        this.metrics.fills.inc({ result: 'not_found' });
        throw new NotFoundUpstream(name, tried);
      }
      this.logger.warn(`${name}: fill failed at ${fill.partial.written} bytes (${tried.join('; ')})`);
      this.metrics.fills.inc({ result: 'failed' });
      await this.store.discard(fill.partial);
      fill.partial.fail(new Error(`${name}: no source could finish it (${tried.join('; ')})`));
    } finally {
      this.metrics.fillsActive.dec();
      releaseSlot();
      fill.opening?.then(
        (unused) => {
          unused.fail(new Error(`${name}: no source answered`)); // closes it
          return this.store.discard(unused);
        },
        () => undefined,
      );
    }
  }

  /** The configured mirrors, best first; true once the fill has ended for good. */
  private async tryMirrors(name: string, fill: Fill, tried: string[]): Promise<boolean> {
    const excluded = new Set<string>();
    for (
      let lease = await this.nextMirror(name, excluded);
      lease;
      lease = await this.nextMirror(name, excluded)
    ) {
      excluded.add(lease.mirror);
      const mirror = lease.mirror;
      const attempt = await this.layouts
        .urlOf(mirror, name)
        .then(
          (url) => this.attempt({ key: mirror, url, mirror: true }, name, fill),
          (error) => this.failed(mirror, name, describeUpstreamError(error)),
        )
        .finally(() => lease.release());
      if (attempt.final) return true;
      tried.push(`${new URL(mirror).host}: ${attempt.reason}`);
      if (fill.partial) this.metrics.failovers.inc();
    }
    return false;
  }

  /** One SRC_URI; true once the fill has ended for good. */
  private async tryUri(url: string, name: string, fill: Fill, tried: string[]): Promise<boolean> {
    const lease = this.balancer.acquireHost(url, name);
    if (!lease) {
      tried.push(`${url}: skipped, ${this.balancer.hostRefusal(url, name) ?? 'busy'}`);
      return false;
    }
    const attempt = await this.attempt({ key: lease.mirror, url, mirror: false }, name, fill).finally(() =>
      lease.release(),
    );
    if (attempt.final) return true;
    tried.push(`${url}: ${attempt.reason}`);
    if (fill.partial) this.metrics.failovers.inc();
    return false;
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

  /** Fetches `name` from one source: from 0, or resuming the partial file from its end. */
  private async attempt(upstream: Upstream, name: string, fill: Fill): Promise<Attempt> {
    const { key } = upstream;
    const partial = fill.partial;
    const offset = partial?.written ?? 0;
    const started = performance.now();
    let response: UpstreamResponse;
    try {
      response = await this.upstream.get(upstream.url, { from: offset });
    } catch (error) {
      return this.failed(key, name, describeUpstreamError(error));
    }
    this.balancer.recordResponse(key, performance.now() - started);
    if (response.statusCode === 404 || response.statusCode === 410) {
      this.balancer.recordNotFound(key, name);
      await response.body.dump().catch(() => undefined);
      return { final: false, reason: `HTTP ${response.statusCode}` };
    }
    const refusal = refuse(name, response, partial, offset);
    if (refusal) {
      await response.body.dump().catch(() => undefined);
      return this.failed(key, name, refusal);
    }
    const manifestSize = fill.entry?.verifiable ? fill.entry.size : undefined;
    const length = contentLength(response);
    // A resume's total was checked against the expected size (the Manifest's) by refuse().
    const total = response.statusCode === 200 ? length : undefined;
    if (manifestSize !== undefined && total !== undefined && total !== manifestSize) {
      // Another version of the file: rejected before a byte of it reaches a client.
      await response.body.dump().catch(() => undefined);
      this.balancer.recordBadFile(key, name);
      this.logger.warn(`${name}: ${upstream.url} has ${total} bytes, the Manifest says ${manifestSize}`);
      return { final: false, reason: `size ${total}, not the Manifest's ${manifestSize}` };
    }

    let target = partial;
    let compareUntil = 0;
    if (!target) {
      const opening = fill.opening ?? this.store.createPartial(name);
      fill.opening = undefined;
      try {
        target = await opening;
      } catch (error) {
        await response.body.dump().catch(() => undefined);
        this.logger.error(`${name}: cannot create a temporary file: ${(error as Error).message}`);
        throw new RetryLater(`${name}: the cache cannot take new files right now`, 60);
      }
      target.expectedSize = manifestSize ?? length;
      target.holdBackLastByte = manifestSize !== undefined;
      target.lastModified = lastModified(response);
      fill.announce(target);
    } else if (response.statusCode === 200) {
      if (length === target.expectedSize || (length === undefined && manifestSize !== undefined)) {
        // The source cannot resume: it re-sends from 0 and the first `offset` bytes are compared.
        compareUntil = offset;
      } else {
        // Another length is another file: its clients are cut off and it starts over.
        this.logger.warn(
          `${name}: ${upstream.url} has it with another length (${length}); clients restarted`,
        );
        await target.restartFrom(0, new DigestAccumulator());
        target.expectedSize = manifestSize ?? length;
      }
    }
    return this.transfer(upstream, name, response, target, compareUntil, fill);
  }

  private async transfer(
    upstream: Upstream,
    name: string,
    response: UpstreamResponse,
    partial: PartialFile,
    compareUntil: number,
    fill: Fill,
  ): Promise<Attempt> {
    const { key } = upstream;
    fill.source = upstream;
    const startBytes = partial.written;
    const started = performance.now();
    const stopSlowWatch = this.watchRate(key, name, response, partial);
    try {
      await copyBodyToPartial(response.body, partial, {
        compareUntil,
        onDifferent: (position) =>
          this.logger.warn(
            `${name}: ${upstream.url} has different bytes from ${position} on; clients restarted`,
          ),
      });
      if (partial.expectedSize !== undefined && partial.written !== partial.expectedSize) {
        throw new Error(`sent ${partial.written} of ${partial.expectedSize} bytes`);
      }
    } catch (error) {
      this.countTransfer(upstream, partial.written - startBytes, started);
      if (error instanceof DiskWriteError) return this.abandon(partial, error.message);
      const reason = error instanceof SlowUpstream ? error.message : describeUpstreamError(error);
      if (!(error instanceof SlowUpstream)) return this.failed(key, name, reason);
      this.logger.warn(`${name}: leaving ${upstream.url}: ${reason}`);
      return { final: false, reason };
    } finally {
      stopSlowWatch();
    }
    this.countTransfer(upstream, partial.written - startBytes, started);
    const digests = partial.end();
    const mismatch = manifestMismatch(digests, fill.entry);
    if (mismatch) return this.rejectBytes(upstream, fill, partial, mismatch);
    try {
      await this.store.commit(partial, digests);
    } catch (error) {
      return this.abandon(partial, `could not be committed: ${(error as Error).message}`);
    }
    this.metrics.fills.inc({ result: 'committed' });
    this.logger.log(`${name}: cached ${partial.written} bytes from ${upstream.url}`);
    return { final: true };
  }

  /**
   * The whole file arrived but is not what the Manifest describes: its clients are cut off
   * (they never got the last byte), the bytes go to quarantine, and the fill starts over from
   * the next source.
   */
  private async rejectBytes(
    upstream: Upstream,
    fill: Fill,
    partial: PartialFile,
    mismatch: string,
  ): Promise<Attempt> {
    const name = partial.name;
    this.balancer.recordBadFile(upstream.key, name);
    this.metrics.fills.inc({ result: 'rejected' });
    this.metrics.verificationFailures.inc({ where: 'fill' });
    partial.fail(new Error(`${name}: ${mismatch}`));
    fill.restart();
    await this.store
      .quarantinePartial(partial, `from ${upstream.url}: ${mismatch}`)
      .catch(() => this.store.discard(partial));
    return { final: false, reason: mismatch };
  }

  /** The bytes were fine but the cache could not take them: fail the fill, blame no mirror. */
  private async abandon(partial: PartialFile, reason: string): Promise<Attempt> {
    this.logger.error(`${partial.name}: ${reason}`);
    this.metrics.fills.inc({ result: 'failed' });
    await this.store.discard(partial);
    partial.fail(new Error(`${partial.name}: ${reason}`));
    return { final: true };
  }

  /**
   * Aborts the body when, over a whole stall-timeout window, it delivered less than
   * PORTCACHE_MIN_RATE while another mirror could take over.
   */
  private watchRate(
    mirror: string,
    name: string,
    response: UpstreamResponse,
    partial: PartialFile,
  ): () => void {
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

  private failed(mirror: string, name: string, reason: string): Attempt {
    this.balancer.recordFailure(mirror, reason);
    this.logger.warn(`${name}: ${mirror} failed: ${reason}`);
    return { final: false, reason };
  }

  private countTransfer(upstream: Upstream, bytes: number, startedMs: number): void {
    this.balancer.recordTransfer(upstream.key, bytes, (performance.now() - startedMs) / 1000);
    this.metrics.countUpstream(upstream.key, bytes, upstream.mirror);
  }
}

/** Why a response cannot be (the rest of) this file, or undefined when it can be used. */
function refuse(name: string, response: UpstreamResponse, partial: PartialFile | undefined, offset: number) {
  const status = response.statusCode;
  const type = headerValue(response.headers, 'content-type') ?? '';
  if (/^text\/html/i.test(type) && !/\.html?$/i.test(name)) return 'sent an HTML page instead of the file';
  if (!partial || offset === 0) return status === 200 ? undefined : `HTTP ${status}`;
  if (status === 200) return undefined;
  if (status !== 206) return `HTTP ${status} to a resume`;
  const range = parseContentRange(headerValue(response.headers, 'content-range'));
  if (range?.start !== offset)
    return `resume answered with Content-Range ${range ? range.start : 'missing'}, not ${offset}`;
  if (partial.expectedSize !== undefined && range.total !== partial.expectedSize) {
    return `resume answered with total ${range.total}, not ${partial.expectedSize}`;
  }
  return undefined;
}

function contentLength(response: UpstreamResponse): number | undefined {
  const value = headerValue(response.headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function lastModified(response: UpstreamResponse): Date | undefined {
  const value = headerValue(response.headers, 'last-modified');
  const date = value ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}
