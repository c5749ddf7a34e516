import { statfs } from 'node:fs/promises';
import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { PortcacheConfig } from '../config/portcache-config.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { RepositoryScheduler } from '../repository/repository-scheduler.service.js';
import { RepositorySync } from '../repository/repository-sync.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { CacheDirProbe } from './cache-dir-probe.js';
import { assessDegradation, type Degradation } from './degradation.js';

/** One look at the instance: whether it can serve, and what is degraded. */
export interface StatusReport {
  /** The app finished starting and is not shutting down. */
  readonly startup: { readonly ok: boolean; readonly reason?: string };
  /** The cache directory could be read and written just now. */
  readonly cache: { readonly ok: boolean; readonly error?: string };
  readonly ready: boolean;
  readonly degradation: Degradation;
  readonly filesystem: { readonly freeBytes: number; readonly sizeBytes: number } | undefined;
}

/**
 * What /health/ready and the status gauges report, checked afresh on each call (a probe every
 * few seconds and a scrape every few more cost a directory listing, a file created, renamed and
 * removed, and a statfs); calls that overlap share one check.
 */
@Injectable()
export class ServiceStatus implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private bootstrapped = false;
  private stopping = false;
  private startedAt = Date.now();
  private running: Promise<StatusReport> | undefined;
  private sync: RepositorySync | undefined;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly probe: CacheDirProbe,
    private readonly balancer: MirrorBalancer,
    private readonly resolver: SrcUriResolver,
    private readonly repositories: RepositoryScheduler,
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * Startup is done: Nest runs these hooks module by module, the deepest first and then in
   * AppModule's import order, with the modules that serve (DistfileModule, AdminModule) before
   * HealthModule; and the server listens only once every hook has finished.
   */
  onApplicationBootstrap(): void {
    this.bootstrapped = true;
    this.startedAt = Date.now();
    // RepositoryModule keeps RepositorySync to itself (not exported); it is one instance app-wide.
    try {
      this.sync = this.moduleRef.get(RepositorySync, { strict: false });
    } catch {
      this.sync = undefined;
    }
  }

  beforeApplicationShutdown(): void {
    this.markStopping();
  }

  /** From now on, not ready (a shutdown may call it as soon as it begins, before app.close()). */
  markStopping(): void {
    this.stopping = true;
  }

  check(): Promise<StatusReport> {
    this.running ??= this.look().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async look(): Promise<StatusReport> {
    const [cacheError, disk] = await Promise.all([
      this.probe.check().then(
        () => undefined,
        (error: Error) => error.message,
      ),
      statfs(this.config.cacheDir).then(
        (stats) => ({ freeBytes: stats.bavail * stats.bsize, sizeBytes: stats.blocks * stats.bsize }),
        (error: Error) => error,
      ),
    ]);
    const startup = !this.bootstrapped
      ? { ok: false, reason: 'starting' }
      : this.stopping
        ? { ok: false, reason: 'shutting down' }
        : { ok: true };
    const cache = cacheError === undefined ? { ok: true } : { ok: false, error: cacheError };
    const filesystem = disk instanceof Error ? undefined : disk;
    const now = Date.now();
    const snapshot = this.resolver.snapshot;
    const degradation = assessDegradation({
      now,
      mirrors: this.balancer.snapshot(),
      disk: filesystem,
      diskError: disk instanceof Error ? disk.message : undefined,
      minFree: this.config.minFree,
      index: this.repositories.indexHealth(now),
      indexed: snapshot && {
        distfiles: snapshot.size,
        repositories: snapshot.repositories.map((repo) => repo.name),
      },
      reposConfigured: this.config.repos.length > 0 || this.config.syncRepos.length > 0,
      synced: (this.sync?.repositories ?? []).map((repo) => ({
        name: repo.name,
        lastSyncedAt: this.sync?.lastSynced.get(repo.name),
      })),
      syncIntervalMs: this.config.syncIntervalMs,
      startedAt: this.startedAt,
    });
    return { startup, cache, ready: startup.ok && cache.ok, degradation, filesystem };
  }
}
