import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { hashFileRange, readByte } from '../cache/file-ranges.js';
import type { PartialFile } from '../cache/partial-file.js';
import { Metrics, type UpstreamRequestMetrics } from '../metrics/metrics.service.js';
import { MirrorBalancer, type MirrorLease } from '../mirrors/mirror-balancer.service.js';
import { MirrorLayouts } from '../mirrors/mirror-layouts.service.js';
import {
  describeUpstreamError,
  headerValue,
  UpstreamClient,
  type UpstreamResponse,
} from '../mirrors/upstream-client.service.js';
import { parseContentRange } from './content-range.js';
import { FillService } from './fill.service.js';

/**
 * Serves a client that asks far beyond a running fill from its own ranged upstream request.
 * Those bytes come from another request, maybe another source: for a file a Manifest verifies,
 * they are proven equal to the verified file (a hash of what was sent against the same range
 * of the committed file) before the response's last byte, read from the committed file, goes
 * out; otherwise the client is cut.
 */
@Injectable()
export class DirectRange {
  private readonly logger = new Logger(DirectRange.name);

  constructor(
    private readonly balancer: MirrorBalancer,
    private readonly layouts: MirrorLayouts,
    private readonly upstream: UpstreamClient,
    private readonly metrics: Metrics,
    private readonly fills: FillService,
    private readonly store: CacheStore,
  ) {}

  /**
   * A private ranged upstream request for bytes [from, size) of a file being filled: to a
   * mirror, or, when the fill reads from a SRC_URI host (the mirrors do not carry the file), to
   * that host. Undefined when none serves it correctly.
   */
  async fetch(partial: PartialFile, from: number): Promise<Readable | undefined> {
    const { name, expectedSize: size } = partial;
    const source = this.fills.sourceOf(name);
    const host = source && !source.mirror ? source : undefined;
    const lease = host ? this.balancer.acquireHost(host.url, name) : this.balancer.acquire(name);
    if (!lease || size === undefined) {
      lease?.release();
      return undefined;
    }
    let measured: UpstreamRequestMetrics | undefined;
    try {
      const url = host ? host.url : await this.layouts.urlOf(lease.mirror, name);
      measured = this.metrics.upstreamRequest(lease.mirror, !host);
      const response = await this.upstream.get(url, { from });
      measured.responded();
      const range = parseContentRange(headerValue(response.headers, 'content-range'));
      if (response.statusCode !== 206 || range?.start !== from || range.total !== size) {
        await response.body.dump().catch(() => undefined);
        measured.ended();
        lease.release();
        return undefined;
      }
      return this.relay(partial, from, size, response, lease, !host, measured);
    } catch (error) {
      measured?.ended(true);
      this.balancer.recordFailure(lease.mirror, describeUpstreamError(error));
      lease.release();
      return undefined;
    }
  }

  /** The body as the client's stream; a verifiable file's last byte waits for the proof. */
  private relay(
    partial: PartialFile,
    from: number,
    size: number,
    response: UpstreamResponse,
    lease: MirrorLease,
    mirror: boolean,
    measured: UpstreamRequestMetrics,
  ): Readable {
    const checked = partial.holdBackLastByte;
    const lastAt = checked ? size - from - 1 : Number.POSITIVE_INFINITY;
    const hash = checked ? createHash('sha256') : undefined;
    let received = 0;
    let last: Buffer | undefined;
    const out = new Readable({ read: () => response.body.resume() });
    response.body.on('data', (chunk: Buffer) => {
      this.metrics.countUpstream(lease.mirror, chunk.length, mirror);
      let piece = chunk;
      if (received + chunk.length > lastAt) {
        piece = chunk.subarray(0, Math.max(0, lastAt - received));
        last = Buffer.from(chunk.subarray(piece.length, piece.length + 1));
      }
      received += chunk.length;
      hash?.update(piece);
      if (!out.push(piece)) response.body.pause();
    });
    response.body.on('end', () => {
      measured.ended(received !== size - from);
      if (!hash) return void out.push(null);
      if (received !== size - from)
        return void out.destroy(new Error(`${partial.name}: ranged body ended early`));
      // The index may have been built meanwhile and know nothing of the file: nothing to prove.
      const proven = partial.holdBackLastByte
        ? this.prove(partial, from, size, hash.digest('hex'), lease.mirror)
        : Promise.resolve(last as Buffer);
      proven.then(
        (byte) => {
          out.push(byte);
          out.push(null);
        },
        (error: Error) => out.destroy(error),
      );
    });
    response.body.on('error', (error) => {
      measured.ended(true);
      out.destroy(error);
    });
    out.on('close', () => {
      // The client left first: not the upstream's failure.
      measured.ended();
      response.body.destroy();
      lease.release();
    });
    return out;
  }

  /** The last byte of [from, size) from the committed file, once the bytes sent equal its bytes. */
  private async prove(partial: PartialFile, from: number, size: number, sent: string, source: string) {
    await whenCommitted(partial);
    const file = this.store.get(partial.name);
    if (!file || file.size !== size)
      throw new Error(`${partial.name}: the verified file is not there to compare`);
    if ((await hashFileRange(file.path, from, size - 1)) !== sent) {
      this.balancer.recordBadFile(source, partial.name);
      this.logger.warn(`${partial.name}: ${source} sent bytes ${from}- that differ from the verified file`);
      throw new Error(`${partial.name}: the ranged bytes differ from the verified file`);
    }
    return readByte(file.path, size - 1);
  }
}

/** Settles when the fill of `partial` has been committed (its bytes passed the Manifest check), or failed. */
function whenCommitted(partial: PartialFile): Promise<void> {
  const generation = partial.generation;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (partial.status === 'committed') resolve();
      else if (partial.status === 'failed' || partial.generation !== generation)
        reject(partial.failure ?? new Error(`${partial.name}: the fill started over`));
      else return;
      partial.off('progress', check);
    };
    partial.on('progress', check);
    check();
  });
}
