import { Injectable, Logger } from '@nestjs/common';

/** What a distfile request came to (`joined`: it read a fill another request had started). */
export type RequestResult = 'hit' | 'miss' | 'joined' | 'not_found' | 'refused' | 'error';
/** Where the body came from: the cache, a running fill, its own ranged upstream request, or none. */
export type BodySource = 'cache' | 'fill' | 'upstream' | 'none';

/** One finished request, whatever router answered it. */
export interface RequestRecord {
  readonly id: string;
  readonly method: string;
  /** The URL path as asked (no query). */
  readonly path: string;
  /** The distfile, for `/distfiles/` requests. */
  readonly name?: string;
  readonly status: number;
  /** Bytes written to the connection for this response, headers included. */
  readonly bytes: number;
  readonly durationMs: number;
  readonly result: RequestResult;
  readonly source: BodySource;
  readonly client: string;
  /** False when the response was cut off (client gone, upstream failure, verification failure). */
  readonly completed: boolean;
}

export type RequestListener = (record: RequestRecord) => void;

/**
 * Every request that ends, told to whoever listens (metrics, the access log, the statistics of
 * the admin API): one place that knows what a request came to, instead of one per concern.
 */
@Injectable()
export class Traffic {
  private readonly logger = new Logger(Traffic.name);
  private readonly listeners = new Set<RequestListener>();
  private sequence = 0;
  private readonly prefix = Date.now().toString(36);

  onRequest(listener: RequestListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A request id, unique in this process and across restarts. */
  nextId(): string {
    this.sequence += 1;
    return `${this.prefix}-${this.sequence.toString(36)}`;
  }

  record(record: RequestRecord): void {
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (error) {
        this.logger.error(`a request listener failed: ${(error as Error).stack ?? error}`);
      }
    }
  }
}
