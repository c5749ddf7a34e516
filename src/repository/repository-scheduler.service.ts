import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PortcacheConfig } from '../config/portcache-config.js';
import { RepositorySync } from './repository-sync.js';
import { SrcUriResolver } from './src-uri-resolver.service.js';

/** Whether the index can be trusted to say that no Manifest references a file. */
export type IndexHealth = { readonly usable: true } | { readonly usable: false; readonly why: string };

/**
 * Keeps the index current: checks the repositories on disk every PORTCACHE_REPO_CHECK_INTERVAL
 * (timestamp.chk and directory times: cheap when nothing changed, so `emerge --sync` shows up
 * quickly) and syncs PORTCACHE_SYNC_REPOS every PORTCACHE_SYNC_INTERVAL.
 */
@Injectable()
export class RepositoryScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(RepositoryScheduler.name);
  private checking = false;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly resolver: SrcUriResolver,
    private readonly sync: RepositorySync,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.addInterval(
      'repository-check',
      setInterval(() => void this.check(), this.config.repoCheckIntervalMs),
    );
    if (this.sync.repositories.length === 0) return;
    void this.syncNow();
    this.scheduler.addInterval(
      'repository-sync',
      setInterval(() => void this.syncNow(), this.config.syncIntervalMs),
    );
  }

  /**
   * The index is built from at least one repository, was read again recently (within three
   * check intervals), and every synced repository was synced within two sync intervals.
   */
  indexHealth(now = Date.now()): IndexHealth {
    const snapshot = this.resolver.snapshot;
    if (!snapshot) return { usable: false, why: 'the index is not built yet' };
    if (snapshot.repositories.length === 0) return { usable: false, why: 'no repository is indexed' };
    const sinceRefresh = now - this.resolver.lastRefreshAt;
    if (sinceRefresh > 3 * this.config.repoCheckIntervalMs + 60_000) {
      return {
        usable: false,
        why: `the repositories were last read ${Math.round(sinceRefresh / 1000)} s ago`,
      };
    }
    for (const repo of this.sync.repositories) {
      const synced = this.sync.lastSynced.get(repo.name);
      if (synced === undefined) return { usable: false, why: `${repo.name} has not been synced yet` };
      if (now - synced > 2 * this.config.syncIntervalMs) {
        return {
          usable: false,
          why: `${repo.name} was last synced ${Math.round((now - synced) / 1000)} s ago`,
        };
      }
    }
    return { usable: true };
  }

  /** Fetches the synced repositories and re-indexes what changed; resolves when both are done. */
  syncNow(): Promise<void> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async runSync(): Promise<void> {
    const changed = await this.sync.syncAll();
    if (changed.length === 0) return;
    await this.resolver.whenReady();
    await this.resolver.refresh({ deep: true }).catch((error: Error) => {
      this.logger.error(`re-indexing after the sync of ${changed.join(', ')} failed: ${error.message}`);
    });
  }

  private async check(): Promise<void> {
    if (this.checking || !this.resolver.ready) return;
    this.checking = true;
    try {
      await this.resolver.refresh();
    } catch (error) {
      this.logger.error(`checking the repositories failed: ${(error as Error).message}`);
    } finally {
      this.checking = false;
    }
  }
}
