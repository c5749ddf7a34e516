import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { PartialFile } from '../cache/partial-file.js';
import { Metrics } from '../metrics/metrics.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { MirrorLayouts } from '../mirrors/mirror-layouts.service.js';
import { describeUpstreamError, headerValue, UpstreamClient } from '../mirrors/upstream-client.service.js';
import { parseContentRange } from './content-range.js';
import { FillService } from './fill.service.js';

/** Serves a client that asks far beyond a running fill from its own ranged upstream request. */
@Injectable()
export class DirectRange {
  constructor(
    private readonly balancer: MirrorBalancer,
    private readonly layouts: MirrorLayouts,
    private readonly upstream: UpstreamClient,
    private readonly metrics: Metrics,
    private readonly fills: FillService,
  ) {}

  /**
   * A private ranged upstream request for bytes [from, size) of a file being filled, for a
   * client that asked far beyond the fill position: to a mirror, or, when the fill reads from a
   * SRC_URI host (the mirrors do not carry the file), to that host. Undefined when none serves
   * it correctly.
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
    try {
      const url = host ? host.url : await this.layouts.urlOf(lease.mirror, name);
      const response = await this.upstream.get(url, { from });
      const range = parseContentRange(headerValue(response.headers, 'content-range'));
      if (response.statusCode !== 206 || range?.start !== from || range.total !== size) {
        await response.body.dump().catch(() => undefined);
        lease.release();
        return undefined;
      }
      // A verifiable file's last byte waits until the fill has passed the Manifest check.
      const lastAt = partial.holdBackLastByte ? size - from - 1 : Number.POSITIVE_INFINITY;
      let received = 0;
      let lastByte: Buffer | undefined;
      const out = new Readable({ read: () => response.body.resume() });
      response.body.on('data', (chunk: Buffer) => {
        this.metrics.countUpstream(lease.mirror, chunk.length, !host);
        let piece = chunk;
        if (received + chunk.length > lastAt) {
          lastByte = Buffer.from(chunk.subarray(lastAt - received));
          piece = chunk.subarray(0, lastAt - received);
        }
        received += chunk.length;
        if (!out.push(piece)) response.body.pause();
      });
      response.body.on('end', () => {
        if (!lastByte) return void out.push(null);
        const last = lastByte;
        whenVerified(partial).then(
          () => {
            out.push(last);
            out.push(null);
          },
          (error: Error) => out.destroy(error),
        );
      });
      response.body.on('error', (error) => out.destroy(error));
      out.on('close', () => {
        response.body.destroy();
        lease.release();
      });
      return out;
    } catch (error) {
      this.balancer.recordFailure(lease.mirror, describeUpstreamError(error));
      lease.release();
      return undefined;
    }
  }
}

/** Settles when the fill of `partial` has been committed (its bytes passed the Manifest check), or failed. */
function whenVerified(partial: PartialFile): Promise<void> {
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
