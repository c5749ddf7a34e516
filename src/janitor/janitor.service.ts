import { join } from 'node:path';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { AccessTracker } from '../cache/access-tracker.service.js';
import { CacheStore } from '../cache/cache-store.service.js';
import { PersistentTimes } from '../cache/persistent-times.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { type IndexHealth, RepositoryScheduler } from '../repository/repository-scheduler.service.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import {
  EVICTION_REASONS,
  type JanitorFile,
  type JanitorInput,
  type JanitorPlan,
  planJanitor,
} from './janitor-plan.js';
import { describeRun, type JanitorReport } from './janitor-report.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The first run after startup: soon, but not during Nest's startup or the index build. */
const FIRST_RUN_MS = 60_000;
/** Free space is checked at most this often when the cache grows (fills start and commit). */
const FREE_SPACE_CHECK_MS = 10_000;
/** Removals between two turns of the event loop: a run with 100,000 files never holds up a hit for long. */
const REMOVALS_PER_TURN = 64;

/**
 * JanitorScheduler keeps the cache within PORTCACHE_MAX_SIZE, PORTCACHE_MIN_FREE and
 * PORTCACHE_MAX_AGE, drops files no Manifest has referenced for PORTCACHE_UNREFERENCED_GRACE,
 * and sweeps leftover temporary and expired quarantined files. Runs on its schedule, when free
 * space drops below the floor while the cache grows, and on the admin's request; runs never
 * overlap, and a run that dies half-way leaves nothing to undo (each removal stands alone and
 * the records it keeps are written atomically).
 */
@Injectable()
export class JanitorScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JanitorScheduler.name);
  /** When each cached file was first seen unreferenced (Portage's emirrordist keeps the same record). */
  private readonly unreferenced: PersistentTimes;
  private running: Promise<JanitorReport> | undefined;
  private lastFreeSpaceCheck = 0;
  private grewDuringRun = false;
  /** The last run that was carried out (not a dry run). */
  lastReport: JanitorReport | undefined;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly store: CacheStore,
    private readonly access: AccessTracker,
    private readonly resolver: SrcUriResolver,
    private readonly repositories: RepositoryScheduler,
    private readonly metrics: Metrics,
    private readonly scheduler: SchedulerRegistry,
  ) {
    this.unreferenced = new PersistentTimes(join(config.cacheDir, '.portcache', 'unreferenced'), {
      warn: (message) => this.logger.warn(message),
    });
    metrics.cacheTotals = () => store.totals();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.unreferenced.load();
    const schedule = this.config.janitorSchedule;
    if ('cron' in schedule) {
      const job = CronJob.from({ cronTime: schedule.cron, onTick: () => void this.runQuietly('schedule') });
      this.scheduler.addCronJob('janitor', job);
      job.start();
    } else {
      this.scheduler.addInterval(
        'janitor',
        setInterval(() => void this.runQuietly('schedule'), schedule.everyMs),
      );
    }
    this.scheduler.addTimeout(
      'janitor-first-run',
      setTimeout(() => void this.runQuietly('startup'), FIRST_RUN_MS),
    );
    this.store.onActivity(() => this.checkFreeSpace());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.unreferenced.close();
  }

  /** What a run would remove now, and why; changes nothing. */
  async plan(): Promise<JanitorReport> {
    const started = performance.now();
    const { input, index } = await this.gather(false);
    return describeRun(planJanitor(input), { dryRun: true, index, started });
  }

  /** Runs now, or joins the run in progress (runs never overlap). */
  run(): Promise<JanitorReport> {
    this.running ??= this.execute().finally(() => {
      this.running = undefined;
      // The cache grew during the run: look at free space again.
      if (this.grewDuringRun) this.checkFreeSpace();
    });
    return this.running;
  }

  private async runQuietly(why: string): Promise<void> {
    try {
      await this.run();
    } catch (error) {
      this.logger.error(`janitor run (${why}) failed: ${(error as Error).stack ?? error}`);
    }
  }

  private async execute(): Promise<JanitorReport> {
    const started = performance.now();
    const { input, index } = await this.gather(true);
    const plan = planJanitor(input);
    const removed = { files: 0, bytes: 0, busy: 0 };
    for (const [i, eviction] of plan.evictions.entries()) {
      if (i % REMOVALS_PER_TURN === REMOVALS_PER_TURN - 1)
        await new Promise((resolve) => setImmediate(resolve));
      const outcome = await this.store.remove(eviction.name);
      if (outcome === 'busy') {
        removed.busy += 1; // being written right now: a later run decides
        continue;
      }
      this.unreferenced.delete(eviction.name);
      if (outcome === 'missing') continue;
      removed.files += 1;
      removed.bytes += eviction.size;
      this.metrics.evictedFiles.inc({ reason: eviction.reason });
      this.metrics.evictedBytes.inc({ reason: eviction.reason }, eviction.size);
    }
    const leftovers = await this.store.sweepLeftovers();
    const quarantine = await this.store.sweepQuarantine(this.config.quarantineDays * DAY_MS);
    await Promise.all([this.unreferenced.flush(), this.access.flush()]);
    const report = describeRun(plan, { dryRun: false, index, started, removed, leftovers, quarantine });
    this.metrics.janitorRuns.observe(report.durationMs / 1000);
    this.lastReport = report;
    this.logSummary(plan, report);
    return report;
  }

  /** The plan's inputs; with `record`, the unreferenced marks are brought up to date first. */
  private async gather(record: boolean): Promise<{ input: JanitorInput; index: IndexHealth }> {
    const now = Date.now();
    const index = this.repositories.indexHealth(now);
    const snapshot = index.usable ? this.resolver.snapshot : undefined;
    const files: JanitorFile[] = [];
    for (const name of this.store.names()) {
      const file = this.store.get(name);
      if (!file) continue;
      let lastAccessMs = this.access.lastAccess(name);
      if (lastAccessMs === undefined) {
        // Cached before portcache kept the record: counts as requested now.
        lastAccessMs = now;
        if (record) this.access.touch(name, now);
      }
      const referenced = snapshot ? snapshot.has(name) : true;
      let since = this.unreferenced.get(name);
      if (record && snapshot) {
        if (referenced && since !== undefined) this.unreferenced.delete(name);
        if (!referenced && since === undefined) {
          since = now;
          this.unreferenced.set(name, now);
        }
      }
      files.push({
        name,
        size: file.size,
        lastAccessMs,
        referenced,
        unreferencedSinceMs: referenced ? undefined : since,
      });
    }
    if (record)
      for (const [name] of [...this.unreferenced.entries()])
        if (!this.store.get(name)) this.unreferenced.delete(name);
    return {
      index,
      input: {
        now,
        files,
        index,
        disk: await this.store.space(),
        limits: {
          maxSizeBytes: this.config.maxSizeBytes,
          lowWatermark: this.config.lowWatermark,
          minFree: this.config.minFree,
          maxAgeMs: this.config.maxAgeMs,
          unreferencedGraceMs: this.config.unreferencedGraceMs,
          unreferencedMaxShare: this.config.unreferencedMaxShare,
        },
      },
    };
  }

  /**
   * The cache grows: below the free-space floor, a run starts now instead of at its time. Checks
   * come at most every FREE_SPACE_CHECK_MS while there is room, after every run while there is not.
   */
  private checkFreeSpace(): void {
    const minFree = this.config.minFree;
    const now = Date.now();
    this.grewDuringRun = this.running !== undefined;
    if (!minFree || this.running || now - this.lastFreeSpaceCheck < FREE_SPACE_CHECK_MS) return;
    this.lastFreeSpaceCheck = now;
    void this.store.space().then((disk) => {
      if (!disk) return;
      const floor = 'bytes' in minFree ? minFree.bytes : minFree.fraction * disk.totalBytes;
      if (disk.freeBytes >= floor) return;
      this.lastFreeSpaceCheck = 0;
      void this.runQuietly('free space below the floor');
    });
  }

  private logSummary(plan: JanitorPlan, report: JanitorReport): void {
    const reasons = EVICTION_REASONS.filter((reason) => plan.byReason[reason].files > 0)
      .map((reason) => `${reason} ${plan.byReason[reason].files} (${mib(plan.byReason[reason].bytes)})`)
      .join(', ');
    const leftovers = report.leftovers?.files ? `, ${report.leftovers.files} leftover temporary file(s)` : '';
    const quarantine = report.quarantine ? `, ${report.quarantine} expired quarantined file(s)` : '';
    const busy = report.removed?.busy ? `, ${report.removed.busy} skipped while being written` : '';
    this.logger.log(
      `janitor: removed ${report.removed?.files ?? 0} file(s), ${mib(report.removed?.bytes ?? 0)}` +
        `${reasons ? ` [${reasons}]` : ''}${leftovers}${quarantine}${busy}; cache ${mib(plan.bytesAfter)} in ` +
        `${plan.cacheFiles - (report.removed?.files ?? 0)} file(s); ${report.durationMs} ms`,
    );
    for (const note of plan.notes) {
      if (plan.unreferencedCapped && note.includes('cap')) this.logger.error(`janitor: ${note}`);
      else this.logger.warn(`janitor: ${note}`);
    }
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
