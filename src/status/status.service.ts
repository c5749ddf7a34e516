import {
  HttpException,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DistfileExplainer } from '../admin/distfile-explainer.service.js';
import { StatsService } from '../admin/stats.service.js';
import { CacheStore } from '../cache/cache-store.service.js';
import { FillService } from '../fills/fill.service.js';
import { ServiceStatus } from '../health/service-status.service.js';
import { JanitorScheduler } from '../janitor/janitor.service.js';
import { Traffic } from '../metrics/traffic.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { RepositoryScheduler } from '../repository/repository-scheduler.service.js';
import { RepositorySync } from '../repository/repository-sync.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { type ExplainView, explainError, explainView } from './explain-view.js';
import { FinishedFills } from './finished-fills.js';
import { type StatusInputs, type StatusView, statusView } from './status-view.js';
import { TrafficHistory } from './traffic-history.js';

/** /health/ready's checks touch the disk; the page polls every second or three. */
const HEALTH_TTL_MS = 5000;

/**
 * The status page's figures from the services the admin API answers with (the same numbers as
 * /api/v1/stats, /api/v1/fills, /api/v1/mirrors, the explain answer), plus the per-minute
 * traffic history its charts need. A part that cannot be had shows as unknown: the page never fails.
 */
@Injectable()
export class StatusService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StatusService.name);
  private readonly finished = new FinishedFills();
  private readonly startedAt = Date.now();
  private unsubscribe: (() => void) | undefined;
  // Looked up once the app is built, not injected: HealthModule keeps it to itself and must stay
  // imported last (see ServiceStatus); it is one instance app-wide.
  private readiness: ServiceStatus | undefined;
  private health: { at: number; value: Promise<StatusInputs['health']> } | undefined;

  constructor(
    private readonly traffic: Traffic,
    private readonly store: CacheStore,
    private readonly fills: FillService,
    private readonly balancer: MirrorBalancer,
    private readonly resolver: SrcUriResolver,
    private readonly repositories: RepositoryScheduler,
    private readonly sync: RepositorySync,
    private readonly janitor: JanitorScheduler,
    private readonly stats: StatsService,
    private readonly explainer: DistfileExplainer,
    private readonly moduleRef: ModuleRef,
    private readonly history: TrafficHistory,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.traffic.onRequest((record) => {
      const now = Date.now();
      this.history.add(record, now);
      // The request that started a download ends with it.
      if (record.result === 'miss' && record.name !== undefined && record.method === 'GET')
        this.finished.add(record.name, now);
    });
  }

  onApplicationBootstrap(): void {
    this.readiness = this.find(ServiceStatus);
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async view(): Promise<StatusView> {
    const now = Date.now();
    const [stats, health] = await Promise.all([
      this.stats.report().catch((error: Error) => this.failed('the statistics', error)),
      this.healthNow(now),
    ]);
    const snapshot = this.resolver.snapshot;
    return statusView({
      now,
      startedAt: this.startedAt,
      health,
      fills: this.fills.list(),
      finished: this.finished.recent(now).map((f) => ({ ...f, cachedBytes: this.store.get(f.name)?.size })),
      mirrors: this.balancer.snapshot(),
      hosts: this.balancer.hostsSnapshot(),
      stats,
      lastHour: this.history.series(now, 60, 1),
      lastDay: this.history.series(now, 48, 30),
      index: {
        health: this.repositories.indexHealth(now),
        distfiles: snapshot?.size,
        repositories: (snapshot?.repositories ?? []).map((r) => ({ name: r.name, location: r.location })),
        synced: this.sync.repositories.map((r) => ({
          name: r.name,
          url: r.url,
          lastSyncedAt: this.sync.lastSynced.get(r.name),
        })),
        lastReadAt: this.resolver.lastRefreshAt,
      },
      janitor: this.janitor.lastReport,
    });
  }

  /** GET /api/v1/distfiles/:name's answer, for the search box; a refused name is said so. */
  explain(name: string): ExplainView {
    try {
      return explainView(this.explainer.explain(name));
    } catch (error) {
      if (error instanceof HttpException) return explainError(name, error.message);
      throw error;
    }
  }

  private healthNow(now: number): Promise<StatusInputs['health']> {
    const readiness = this.readiness;
    if (!readiness) return Promise.resolve(undefined);
    if (!this.health || now - this.health.at > HEALTH_TTL_MS) {
      this.health = {
        at: now,
        value: readiness.check().then(
          (report) => ({
            ready: report.ready,
            problems: [
              ...(report.startup.ok ? [] : [report.startup.reason ?? 'starting']),
              ...(report.cache.ok ? [] : [`cache directory: ${report.cache.error ?? 'not writable'}`]),
            ],
            degraded: Object.values(report.degradation)
              .filter((f) => f.degraded)
              .map((f) => (f.degraded ? `${f.cause}: ${f.reason}` : '')),
          }),
          (error: Error) => this.failed('the readiness checks', error),
        ),
      };
    }
    return this.health.value;
  }

  private find<T>(type: new (...args: never[]) => T): T | undefined {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch (error) {
      this.logger.warn(`the status page goes without ${type.name}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private failed(what: string, error: Error): undefined {
    this.logger.warn(`the status page could not read ${what}: ${error.message}`);
    return undefined;
  }
}
