import type { Readable } from 'node:stream';
import {
  type BeforeApplicationShutdown,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { Digests } from '../cache/digests.js';
import type { PartialFile } from '../cache/partial-file.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { DistfileEntry } from '../repository/distfile-snapshot.js';
import { manifestSizes } from '../repository/manifest-check.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { Fill, type Upstream } from './fill.js';
import { FillDownload } from './fill-download.js';
import { RetryLater } from './fill-slots.js';
import { FillVerdicts } from './fill-verdicts.js';
import {
  type ImportOptions,
  type ImportResult,
  ImportUnverified,
  sameDigests,
  unverifiedMessage,
} from './import-outcome.js';
import { copyBodyToPartial } from './partial-file-sink.js';
import { planSources, type SourcePlan } from './source-plan.js';

export type { Upstream } from './fill.js';
export { NotFoundUpstream } from './fill-verdicts.js';

/** The file must not be fetched (RESTRICT=fetch); the message tells the admin what to do. */
export class FetchRestricted extends NotFoundException {}

/** Someone else writes the name (an import, adoption, a delete): come back shortly. */
export class NameBusy extends RetryLater {}

/** An import whose bytes no Manifest entry for the name describes; they went to quarantine. */
export class ImportMismatch extends Error {}

/** An import whose body broke off; nothing was kept. */
export class ImportBroken extends Error {}

/** A running fill or import as the admin API lists it. */
export interface FillProgress {
  name: string;
  /** The URL the bytes come from now, 'import' for an upload, null while no source answered. */
  source: string | null;
  /** 'waiting': for a download slot or a source's answer; 'ended': being verified and committed. */
  status: 'waiting' | 'filling' | 'ended' | 'committed' | 'failed';
  written: number;
  expectedSize: number | null;
  /** Average since the transfer started. */
  bytesPerSecond: number;
  /** Responses reading it now. */
  clients: number;
}

const SHUTDOWN_WAIT_MS = 3000;

/**
 * One fill per name: the first miss of a file starts one upstream download into a partial file
 * that every request for the file joins; an import is a fill whose source is the upload. Each
 * fill holds the name's writer claim, ends committed or failed whatever throws, and commits
 * nothing a Manifest disagrees with. FillDownload goes through a fill's sources; SourceAttempt does
 * each attempt against one source.
 */
@Injectable()
export class FillService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(FillService.name);
  private readonly fills = new Map<string, Fill>();
  private readonly runs = new Set<Promise<unknown>>();
  /** Fills whose source is an upload (for list()). */
  private readonly imports = new WeakSet<Fill>();

  constructor(
    private readonly store: CacheStore,
    private readonly metrics: Metrics,
    private readonly resolver: SrcUriResolver,
    private readonly verdicts: FillVerdicts,
    private readonly download: FillDownload,
  ) {}

  /** The partial file of `name` once its source answered; rejects with NotFoundUpstream, FetchRestricted or RetryLater. */
  join(name: string): Promise<PartialFile> {
    const running = this.fills.get(name);
    if (running) return running.ready;
    let fill: Fill;
    try {
      fill = this.newFill(name);
    } catch (error) {
      return Promise.reject(error);
    }
    void this.track(name, fill, () => this.download.run(name, fill));
    return fill.ready;
  }

  /**
   * Writes an uploaded file into the cache, verified like a fill; requests for the name join
   * it meanwhile. Throws NameBusy while the name is being written, ImportBroken, ImportMismatch,
   * ImportUnverified (before reading the body when the index already tells).
   */
  async import(name: string, body: Readable, options: ImportOptions = {}): Promise<ImportResult> {
    if (this.fills.has(name))
      throw new ConflictException(`${name} is being written; try again when it is done`);
    if (!options.unverified && this.resolver.ready && !this.resolver.lookup(name)?.verifiable)
      throw new ImportUnverified(unverifiedMessage(name));
    const fill = this.newFill(name, { steps: [] });
    this.imports.add(fill);
    return this.track(name, fill, () => this.runImport(name, fill, body, options));
  }

  /** Running fills and imports: where from, how far, how fast, how many readers. */
  list(): FillProgress[] {
    return [...this.fills].map(([name, fill]) => {
      const partial = fill.partial;
      return {
        name,
        source: this.imports.has(fill) ? 'import' : (fill.source?.url ?? null),
        status: partial?.status ?? 'waiting',
        written: partial?.written ?? 0,
        expectedSize: partial?.expectedSize ?? null,
        bytesPerSecond: partial ? Math.round(partial.bytesPerSecond()) : 0,
        clients: partial?.clients ?? 0,
      };
    });
  }

  /**
   * Ends every fill cleanly: committed or failed, never half. Upstream requests are aborted by
   * now (UpstreamClient), so fills fail over to sources that fail at once and end, removing their
   * temporary files; a fill that is committing finishes. What is still running after a bound
   * (waiting for a slot, the index, the disk) is failed here: its readers are cut and its
   * temporary files removed.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.runs.size === 0) return;
    this.logger.log(`ending ${this.fills.size} fill(s) in progress`);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
    });
    await Promise.race([Promise.allSettled([...this.runs]), bound]);
    clearTimeout(timer);
    await Promise.all([...this.fills].map(([name, fill]) => this.endAtShutdown(name, fill)));
  }

  /** A fill still running at shutdown: whoever waits or reads is cut, its temporary files go. */
  private async endAtShutdown(name: string, fill: Fill): Promise<void> {
    const error = new Error(`${name}: portcache is shutting down`);
    this.logger.warn(`${name}: ended at shutdown`);
    fill.fail(error);
    const partials = new Set<PartialFile>();
    if (fill.partial) partials.add(fill.partial);
    const opened = await fill.opening?.catch(() => undefined);
    if (opened) partials.add(opened);
    for (const partial of partials) {
      if (partial.status === 'committed') continue;
      partial.fail(error);
      await this.store.discard(partial).catch(() => undefined);
    }
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
    const sizes = manifestSizes(this.plan(name).entry);
    return sizes.size === 1 ? [...sizes][0] : undefined;
  }

  /** Where the running fill of `name` reads from now (it has the file). */
  sourceOf(name: string): Upstream | undefined {
    return this.fills.get(name)?.source;
  }

  isFilling(name: string): boolean {
    return this.fills.has(name);
  }

  /** What the index says about `name` and where to fetch it; throws FetchRestricted instead of a plan that refuses. */
  private plan(name: string): { entry: DistfileEntry | undefined; plan: SourcePlan } {
    const entry = this.resolver.lookup(name);
    const plan = planSources(name, entry);
    if (plan.refusal) throw new FetchRestricted(plan.refusal);
    return { entry, plan };
  }

  /** A fill holding the name's writer claim; throws FetchRestricted or NameBusy. */
  private newFill(name: string, plan?: SourcePlan): Fill {
    const planned = plan ? { entry: this.resolver.lookup(name), plan } : this.plan(name);
    const release = this.store.claim(name);
    if (!release) throw new NameBusy(`${name} is being written; try again shortly`, 5);
    const fill = new Fill(planned.plan, planned.entry, !this.resolver.ready, release);
    this.fills.set(name, fill);
    if (fill.entryPending) void this.resolver.whenReady().then(() => this.verdicts.learnEntry(name, fill));
    return fill;
  }

  /** Runs `work` as the fill of `name`; whatever it throws, the fill ends failed and its partial file is gone. */
  private track<T>(name: string, fill: Fill, work: () => Promise<T>): Promise<T> {
    const run = work()
      .catch(async (error: Error) => {
        await this.verdicts.failHard(name, fill, error);
        throw error;
      })
      .finally(() => {
        this.fills.delete(name);
        fill.release();
        this.runs.delete(run);
      });
    this.runs.add(run);
    run.catch(() => undefined);
    return run;
  }

  private async runImport(
    name: string,
    fill: Fill,
    body: Readable,
    options: ImportOptions,
  ): Promise<ImportResult> {
    const partial = await this.store.createPartial(name);
    partial.holdBackLastByte = fill.verifiable;
    if (fill.manifestSizes.size === 1) partial.expectedSize = [...fill.manifestSizes][0];
    fill.announce(partial);
    try {
      await copyBodyToPartial(body, partial);
    } catch (error) {
      throw new ImportBroken(`${name}: the upload broke off: ${(error as Error).message}`);
    }
    let digests: Digests;
    try {
      digests = await partial.end();
    } catch (error) {
      partial.fail(error as Error);
      await this.store.discard(partial);
      throw new ImportBroken(`${name}: cannot hash the upload: ${(error as Error).message}`);
    }
    const mismatch = await this.verdicts.mismatch(name, fill, digests);
    if (mismatch) {
      this.metrics.verificationFailures.inc({ where: 'import' });
      partial.fail(new Error(mismatch));
      await this.store.quarantinePartial(partial, `import: ${mismatch}`);
      throw new ImportMismatch(`${name}: ${mismatch}; not imported (kept in quarantine)`);
    }
    const verified = fill.entry?.verifiable === true;
    // Unverifiable after all (the index was building when the upload began): refused, readers
    // that joined are cut. The very bytes cached already: not rewritten (requests were hits).
    const same = sameDigests(this.store.get(name)?.digests, digests);
    if ((!verified && !options.unverified) || same) {
      partial.fail(new Error(same ? `${name}: already cached` : unverifiedMessage(name)));
      await this.store.discard(partial);
      if (!same) throw new ImportUnverified(unverifiedMessage(name));
      return { digests, verified, alreadyCached: true };
    }
    await this.store.commit(partial, digests);
    this.logger.log(`${name}: imported ${digests.size} bytes${verified ? ', verified' : ', unverified'}`);
    return { digests, verified, alreadyCached: false };
  }
}
