import type { PartialFile } from '../cache/partial-file.js';
import type { DistfileEntry } from '../repository/distfile-snapshot.js';
import { manifestSizes } from '../repository/manifest-check.js';
import { Contributions } from './contributions.js';
import type { SourcePlan } from './source-plan.js';

/** Where one attempt fetches from: a mirror (its layout decides the path) or a SRC_URI. */
export interface Upstream {
  /** The balancer's key: mirror base URL or the SRC_URI's origin. */
  readonly key: string;
  readonly url: string;
  /** A configured mirror (else a SRC_URI host). */
  readonly mirror: boolean;
}

/** Bytes from several sources failed the check: kept to find out afterwards whose were wrong. */
export interface Suspect {
  readonly path: string;
  readonly ranges: ReadonlyArray<{ source: string; from: number; to: number }>;
}

/**
 * One running fill (or import) of one name: what the index says, where the bytes come from,
 * and the partial file readers join. `ready` resolves with the partial file once a source
 * answered (an import: at once).
 */
export class Fill {
  partial: PartialFile | undefined;
  /** Where the bytes come from now. */
  source: Upstream | undefined;
  /**
   * The temporary file for the first source that answers, opened while its request is on the
   * way: a miss's first byte then does not wait for open().
   */
  opening: Promise<PartialFile> | undefined;
  /** Who wrote which bytes of the current partial file. */
  contributions = new Contributions();
  /** Bytes from several sources failed the check: each source must now deliver the whole file. */
  wholeFromOneSource = false;
  readonly suspects: Suspect[] = [];
  ready!: Promise<PartialFile>;
  private resolve!: (partial: PartialFile) => void;
  private reject!: (error: Error) => void;

  constructor(
    public plan: SourcePlan,
    public entry: DistfileEntry | undefined,
    /** The index was still building: the entry is looked up again before anything is committed. */
    public entryPending: boolean,
    /** Gives up the name's writer claim (CacheStore.claim). */
    readonly release: () => void,
  ) {
    this.renew();
  }

  /** Responses hold back their last byte until the file passed its check: a Manifest can, or may yet, verify it. */
  get verifiable(): boolean {
    return this.entryPending || this.entry?.verifiable === true;
  }

  /** Lengths a Manifest allows (empty: none can tell yet). */
  get manifestSizes(): ReadonlySet<number> {
    return manifestSizes(this.entry);
  }

  announce(partial: PartialFile): void {
    this.partial = partial;
    this.resolve(partial);
  }

  /** Requests waiting for a source get `error`; readers of the partial file are cut by the caller. */
  fail(error: Error): void {
    this.reject(error);
  }

  /** The bytes so far were thrown away: requests from now on wait for the next source. */
  restart(): void {
    this.partial = undefined;
    this.contributions = new Contributions();
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
