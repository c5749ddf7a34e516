import { Injectable } from '@nestjs/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { PortcacheConfig } from '../config/portcache-config.js';
import type { MirrorReading, StatusReading, UpstreamRequestMetrics } from './metric-readings.js';
import { OptionalGauge } from './optional-gauge.js';
import { countRequests } from './request-metrics.js';
import { Traffic } from './traffic.service.js';

export type { MirrorReading, StatusReading, UpstreamRequestMetrics } from './metric-readings.js';

/** Every portcache metric, on a Registry of its own (one per app instance, none global). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'portcache_distfile_requests_total',
    help: 'Distfile requests by result (hit, miss, joined, not_found, refused, error) and method (GET, HEAD)',
    labelNames: ['result', 'method'] as const,
    registers: [this.registry],
  });

  readonly responseBytes = new Counter({
    name: 'portcache_response_bytes_total',
    help: 'Bytes sent for distfile responses (headers included), by where the body came from (cache, fill, upstream: a far-ahead range)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly fills = new Counter({
    name: 'portcache_fills_total',
    help: 'Finished upstream fills by result (committed, failed, not_found, rejected: bytes failed the Manifest)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly failovers = new Counter({
    name: 'portcache_fill_failovers_total',
    help: 'Fills that moved to another mirror mid-file',
    registers: [this.registry],
  });

  readonly upstreamBytes = new Counter({
    name: 'portcache_upstream_bytes_total',
    help: 'Bytes received from upstream, by mirror host (SRC_URI hosts together as src_uri)',
    labelNames: ['mirror'] as const,
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'portcache_upstream_requests_total',
    help: 'Requests sent upstream (fill attempts and far-ahead ranges), by mirror host (SRC_URI hosts together as src_uri)',
    labelNames: ['mirror'] as const,
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'portcache_upstream_errors_total',
    help: 'Upstream requests that failed (connection, HTTP or protocol error, refused response, wrong bytes, cut or stalled body; not a 404), by mirror host',
    labelNames: ['mirror'] as const,
    registers: [this.registry],
  });

  readonly upstreamTtfb = new Histogram({
    name: 'portcache_upstream_ttfb_seconds',
    help: 'Time from an upstream request to its response headers, by mirror host',
    labelNames: ['mirror'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'portcache_upstream_duration_seconds',
    help: 'Time from an upstream request to the end of its body (or its failure), by mirror host',
    labelNames: ['mirror'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly fillsActive = new Gauge({
    name: 'portcache_fills_active',
    help: 'Upstream fills running now',
    registers: [this.registry],
  });

  readonly fillsQueued = new Gauge({
    name: 'portcache_fills_queued',
    help: 'Misses waiting for a fill slot',
    registers: [this.registry],
  });

  readonly verificationFailures = new Counter({
    name: 'portcache_verification_failures_total',
    help: 'Files that did not match their Manifest, by where they were caught (fill, cache, import)',
    labelNames: ['where'] as const,
    registers: [this.registry],
  });

  readonly indexDistfiles = new Gauge({
    name: 'portcache_index_distfiles',
    help: 'Distfiles the repository index knows',
    registers: [this.registry],
  });

  readonly evictedFiles = new Counter({
    name: 'portcache_evicted_files_total',
    help: 'Cached files the janitor removed, by reason (age, unreferenced, size, free-space)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly evictedBytes = new Counter({
    name: 'portcache_evicted_bytes_total',
    help: 'Bytes of cached files the janitor removed, by reason (age, unreferenced, size, free-space)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly janitorRuns = new Histogram({
    name: 'portcache_janitor_run_seconds',
    help: 'Duration of janitor runs that removed or would remove files',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });

  // Read at each scrape; the modules that know set them (JanitorScheduler, health's StatusMetrics).

  /** What the cache holds. */
  cacheTotals: () => { files: number; bytes: number } = () => ({ files: 0, bytes: 0 });
  /** The configured mirrors (not SRC_URI hosts). */
  mirrorReadings: () => readonly MirrorReading[] = () => [];
  /** When the index was last read (ms since epoch, 0: never) and how long its last change took to build. */
  indexReading: () => { refreshedAt: number; buildMs: number | undefined } = () => ({
    refreshedAt: 0,
    buildMs: undefined,
  });
  /**
   * Readiness, degraded causes and the cache's filesystem; undefined: not known (yet). Four
   * gauges ask during one scrape: the reader should let concurrent calls share one check.
   */
  statusReading: () => Promise<StatusReading | undefined> = async () => undefined;

  readonly cacheBytes: Gauge = new Gauge({
    name: 'portcache_cache_bytes',
    help: 'Bytes of committed distfiles in the cache',
    registers: [this.registry],
    collect: (): void => this.cacheBytes.set(this.cacheTotals().bytes),
  });

  readonly cacheFiles: Gauge = new Gauge({
    name: 'portcache_cache_files',
    help: 'Committed distfiles in the cache',
    registers: [this.registry],
    collect: (): void => this.cacheFiles.set(this.cacheTotals().files),
  });

  readonly mirrorScore: Gauge = new Gauge({
    name: 'portcache_mirror_score_ms',
    help: 'Expected ms for a configured mirror to deliver 16 MiB (measured time to first byte and throughput); absent until it served something',
    labelNames: ['mirror'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.mirrorScore.reset();
      for (const m of this.mirrorReadings())
        if (m.score !== null) this.mirrorScore.set({ mirror: this.hostOf(m.url) }, m.score);
    },
  });

  readonly mirrorCircuitOpen: Gauge = new Gauge({
    name: 'portcache_mirror_circuit_open',
    help: 'Whether a configured mirror is being skipped after failures (1: circuit open; half-open counts as 0)',
    labelNames: ['mirror'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.mirrorCircuitOpen.reset();
      for (const m of this.mirrorReadings())
        this.mirrorCircuitOpen.set({ mirror: this.hostOf(m.url) }, m.circuit === 'open' ? 1 : 0);
    },
  });

  readonly ready: Gauge = new Gauge({
    name: 'portcache_ready',
    help: 'Whether /health/ready says this instance can serve (1) or not (0)',
    registers: [this.registry],
    collect: async (): Promise<void> => this.ready.set((await this.statusReading())?.ready ? 1 : 0),
  });

  readonly degraded: Gauge = new Gauge({
    name: 'portcache_degraded',
    help: 'States that do not stop hits but need attention, by cause (mirrors_down, disk_low, index_stale, sync_failing): 1 while it applies',
    labelNames: ['cause'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const status = await this.statusReading();
      this.degraded.reset();
      for (const [cause, on] of Object.entries(status?.degraded ?? {}))
        this.degraded.set({ cause }, on ? 1 : 0);
    },
  });

  /** Mirror URL → host label: parsed once per mirror, not once per chunk. */
  private readonly hosts = new Map<string, string>();

  constructor(traffic: Traffic, config: PortcacheConfig) {
    collectDefaultMetrics({ register: this.registry, prefix: 'portcache_' });
    new OptionalGauge(
      'portcache_cache_limit_bytes',
      'The cache size limit (PORTCACHE_MAX_SIZE); absent when unset',
      this.registry,
      () => config.maxSizeBytes,
    );
    new OptionalGauge(
      'portcache_filesystem_free_bytes',
      "Bytes available to portcache on the cache's filesystem",
      this.registry,
      async () => (await this.statusReading())?.filesystem?.freeBytes,
    );
    new OptionalGauge(
      'portcache_filesystem_size_bytes',
      "Size of the cache's filesystem",
      this.registry,
      async () => (await this.statusReading())?.filesystem?.sizeBytes,
    );
    new OptionalGauge(
      'portcache_index_build_seconds',
      'How long the last index build that changed the index took (the first one reads every repository)',
      this.registry,
      () => {
        const { buildMs } = this.indexReading();
        return buildMs === undefined ? undefined : buildMs / 1000;
      },
    );
    new OptionalGauge(
      'portcache_index_age_seconds',
      'Seconds since the repositories were last read without error; absent before the first build',
      this.registry,
      () => {
        const { refreshedAt } = this.indexReading();
        return refreshedAt === 0 ? undefined : Math.max(0, (Date.now() - refreshedAt) / 1000);
      },
    );
    countRequests(traffic, this.requests, this.responseBytes);
  }

  /** Bytes from upstream: per configured mirror host, SRC_URI hosts together (bounded label values). */
  countUpstream(key: string, bytes: number, isMirror: boolean): void {
    this.upstreamBytes.inc({ mirror: isMirror ? this.hostOf(key) : 'src_uri' }, bytes);
  }

  /** Counts an upstream request now and returns what observes its first byte and its end. */
  upstreamRequest(key: string, isMirror: boolean): UpstreamRequestMetrics {
    const labels = { mirror: isMirror ? this.hostOf(key) : 'src_uri' };
    this.upstreamRequests.inc(labels);
    const started = performance.now();
    let over = false;
    return {
      responded: () => this.upstreamTtfb.observe(labels, (performance.now() - started) / 1000),
      ended: (error = false) => {
        if (over) return;
        over = true;
        this.upstreamDuration.observe(labels, (performance.now() - started) / 1000);
        if (error) this.upstreamErrors.inc(labels);
      },
    };
  }

  private hostOf(url: string): string {
    let host = this.hosts.get(url);
    if (host === undefined) {
      host = new URL(url).host;
      // Keys are configured mirrors: bounded, but guard against a caller passing something else.
      if (this.hosts.size < 1000) this.hosts.set(url, host);
    }
    return host;
  }
}
