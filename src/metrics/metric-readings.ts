/** A configured mirror as the scrape sees it (from MirrorBalancer.snapshot()). */
export interface MirrorReading {
  readonly url: string;
  /** Expected ms to fetch 16 MiB; null until the mirror has served something. */
  readonly score: number | null;
  readonly circuit: 'closed' | 'open' | 'half-open';
}

/** What the health checks found, read at each scrape. */
export interface StatusReading {
  readonly ready: boolean;
  /** Every cause the checks know, true when it applies now (a bounded set of label values). */
  readonly degraded: Readonly<Record<string, boolean>>;
  /** The cache's filesystem; undefined when statfs failed. */
  readonly filesystem: { readonly freeBytes: number; readonly sizeBytes: number } | undefined;
}

/** One upstream request's metrics: counted when it starts, observed once when it ends. */
export interface UpstreamRequestMetrics {
  /** The response's status and headers arrived. */
  responded(): void;
  /** The request is over; `error`: the upstream failed (not a 404, not our own disk). Only the first call counts. */
  ended(error?: boolean): void;
}
