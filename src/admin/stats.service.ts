import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { Traffic } from '../metrics/traffic.service.js';
import { type CacheUsage, cacheUsage } from './cache-usage.js';
import { SAVED_NOTE, type TopFile, type TrafficReport, TrafficStats } from './traffic-stats.js';

export interface StatsReport {
  startedAt: string;
  uptimeSeconds: number;
  sinceStart: TrafficReport;
  last24h: TrafficReport;
  topFiles24h: TopFile[];
  cache: CacheUsage;
  note: string;
}

/** `GET /api/v1/stats`: every distfile request Traffic tells of, counted; the cache against its limits. */
@Injectable()
export class StatsService implements OnModuleInit, OnModuleDestroy {
  private readonly stats = new TrafficStats();
  private readonly startedAt = Date.now();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly traffic: Traffic,
    private readonly store: CacheStore,
    private readonly config: PortcacheConfig,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.traffic.onRequest((record) => this.stats.add(record, Date.now()));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async report(): Promise<StatsReport> {
    const now = Date.now();
    const totals = this.store.totals();
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - this.startedAt) / 1000),
      sinceStart: this.stats.sinceStart(),
      last24h: this.stats.last24h(now),
      topFiles24h: this.stats.topFiles(now),
      cache: cacheUsage({
        ...totals,
        maxSizeBytes: this.config.maxSizeBytes,
        lowWatermark: this.config.lowWatermark,
        minFree: this.config.minFree,
        disk: await this.store.space(),
      }),
      note: SAVED_NOTE,
    };
  }
}
