import { Injectable } from '@nestjs/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { Traffic } from './traffic.service.js';

/** Every portcache metric, on a Registry of its own (one per app instance, none global). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'portcache_distfile_requests_total',
    help: 'Distfile GET/HEAD requests by result (hit, miss)',
    labelNames: ['result'] as const,
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

  /** What the cache holds, read at each scrape (the cache sets it). */
  cacheTotals: () => { files: number; bytes: number } = () => ({ files: 0, bytes: 0 });

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

  /** Bytes from upstream: per configured mirror host, SRC_URI hosts together (bounded label values). */
  countUpstream(key: string, bytes: number, isMirror: boolean): void {
    this.upstreamBytes.inc({ mirror: isMirror ? new URL(key).host : 'src_uri' }, bytes);
  }

  constructor(traffic: Traffic) {
    collectDefaultMetrics({ register: this.registry, prefix: 'portcache_' });
    traffic.onRequest((request) => {
      if (request.name !== undefined) this.requests.inc({ result: request.result });
    });
  }
}
