import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { DistfileIndex, type RefreshOptions, type RefreshResult } from './distfile-index.js';
import type { DistfileEntry, DistfileSnapshot } from './distfile-snapshot.js';

/** Repository directories to index (PORTCACHE_REPOS); undefined: find them as Portage does. */
export const REPOSITORY_PATHS = Symbol('REPOSITORY_PATHS');

export interface RefreshedEvent {
  readonly snapshot: DistfileSnapshot;
  /** The first build: every name is new. */
  readonly full: boolean;
  /** Distfiles whose entry appeared, disappeared or changed. */
  readonly changedNames: ReadonlySet<string>;
}

export type RefreshedListener = (event: RefreshedEvent) => void | Promise<void>;

/**
 * What the repositories say about a distfile: size, digests, upstream URIs, restrictions.
 * Builds in the background from the application's start; until then `ready` is false and
 * lookup() finds nothing.
 */
@Injectable()
export class SrcUriResolver implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: Logger;
  private readonly index: DistfileIndex;
  private readonly listeners = new Set<RefreshedListener>();
  private building: Promise<void> | undefined;
  /** When the repositories were last read without error (ms since epoch; 0: never). */
  lastRefreshAt = 0;
  /** How long the last refresh that changed the index took (the first build included), for metrics. */
  lastBuildMs: number | undefined;
  private closing = false;

  constructor(@Inject(REPOSITORY_PATHS) paths: string[] | undefined, @Optional() logger?: Logger) {
    this.logger = logger ?? new Logger(SrcUriResolver.name);
    this.index = new DistfileIndex({ discovery: { paths }, logger: this.logger });
  }

  get ready(): boolean {
    return this.index.snapshot !== undefined;
  }

  /** The current snapshot, to hold for several lookups that must agree. */
  get snapshot(): DistfileSnapshot | undefined {
    return this.index.snapshot;
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.index.close();
  }

  /** Starts the first build without waiting for it; calling it again does nothing. */
  start(): void {
    this.building ??= this.refresh().then(
      () => undefined,
      (error: Error) => {
        if (!this.closing)
          this.logger.error(`could not index the repositories: ${error.stack ?? error.message}`);
      },
    );
  }

  /** Settles when the first build has ended (started if need be); check `ready` for its outcome. */
  whenReady(): Promise<void> {
    this.start();
    return this.building as Promise<void>;
  }

  lookup(name: string): DistfileEntry | undefined {
    return this.index.lookup(name);
  }

  /** Re-reads what changed since the last build (everything, the first time). */
  async refresh(options?: RefreshOptions): Promise<RefreshResult> {
    const started = performance.now();
    const result = await this.index.refresh(options);
    this.lastRefreshAt = Date.now();
    if (result.changed) {
      this.lastBuildMs = performance.now() - started;
      await this.notify(result);
    }
    return result;
  }

  /** Called after each build that changed something, the first included. Returns an unsubscribe. */
  onRefreshed(listener: RefreshedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async notify({ snapshot, full, changedNames }: RefreshResult): Promise<void> {
    await Promise.all(
      [...this.listeners].map(async (listener) => {
        try {
          await listener({ snapshot, full, changedNames });
        } catch (error) {
          this.logger.error(`a refresh listener failed: ${(error as Error).stack ?? error}`);
        }
      }),
    );
  }
}
