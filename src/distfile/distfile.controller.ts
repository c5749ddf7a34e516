import { createReadStream } from 'node:fs';
import { Controller, Get, Head, Header, NotFoundException, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CachedFile } from '../cache/cache-store.service.js';
import { CacheStore } from '../cache/cache-store.service.js';
import type { PartialFile } from '../cache/partial-file.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { FillService } from '../fills/fill.service.js';
import { RetryLater } from '../fills/fill-slots.js';
import { Metrics } from '../metrics/metrics.service.js';
import { validateDistfileName, validateHashedPrefix } from './distfile-name.js';
import { type ByteRange, ifRangeHolds, notModified, parseRange } from './http-range.js';
import { SERVED_LAYOUT_CONF } from './layout.js';

const OCTET_STREAM = 'application/octet-stream';

interface HashedParams {
  prefix: string;
  name: string;
}

function hashedName({ prefix, name }: HashedParams): string {
  validateDistfileName(name);
  validateHashedPrefix(prefix, name);
  return name;
}

const LAYOUT_CONF_LENGTH = Buffer.byteLength(SERVED_LAYOUT_CONF);

/** The Gentoo mirror protocol: GLEP 75 hashed and flat paths map to one stored file. A HEAD never starts a fill. */
@Controller('distfiles')
export class DistfileController {
  constructor(
    private readonly store: CacheStore,
    private readonly fills: FillService,
    private readonly metrics: Metrics,
    private readonly config: PortcacheConfig,
  ) {}

  @Get('layout.conf')
  @Header('content-type', 'text/plain; charset=utf-8')
  layoutConf(): string {
    return SERVED_LAYOUT_CONF;
  }

  @Head('layout.conf')
  layoutConfHead(@Res() reply: FastifyReply): void {
    reply
      .headers({ 'content-type': 'text/plain; charset=utf-8', 'content-length': LAYOUT_CONF_LENGTH })
      .send();
  }

  @Get(':prefix/:name')
  hashedGet(@Param() params: HashedParams, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.serve(hashedName(params), request, reply);
  }

  @Head(':prefix/:name')
  hashedHead(@Param() params: HashedParams, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.serve(hashedName(params), request, reply);
  }

  @Get(':name')
  flatGet(@Param('name') name: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.serve(validateDistfileName(name), request, reply);
  }

  @Head(':name')
  flatHead(@Param('name') name: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.serve(validateDistfileName(name), request, reply);
  }

  private async serve(name: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const cached = this.store.get(name);
    if (cached) return this.sendCached(cached, request, reply);
    if (request.method === 'HEAD') return this.headMiss(name, reply);
    this.metrics.requests.inc({ result: 'miss' });
    const partial = await withDeadline(this.fills.join(name), this.config.stallTimeoutMs, name);
    const committed = partial.status === 'committed' ? this.store.get(name) : undefined;
    if (committed) return this.sendCached(committed, request, reply);
    await this.sendPartial(partial, request, reply);
  }

  private async sendCached(file: CachedFile, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    this.metrics.requests.inc({ result: 'hit' });
    const headers = request.headers;
    reply.headers({
      'accept-ranges': 'bytes',
      'content-type': OCTET_STREAM,
      'last-modified': file.lastModified,
      etag: file.etag,
    });
    if (notModified(headers, file.etag, file.mtimeMs)) {
      reply.code(304).send();
      return;
    }
    const range = ifRangeHolds(headers['if-range'] as string | undefined, file.etag, file.lastModified)
      ? parseRange(headers.range, file.size)
      : undefined;
    if (range === 'unsatisfiable') return unsatisfiable(reply, file.size);
    const { start, end } = range ?? { start: 0, end: file.size - 1 };
    writeLengthHeaders(reply, range, file.size);
    if (request.method === 'HEAD' || file.size === 0) {
      reply.send();
      return;
    }
    const small = await this.store.readSmall(file);
    if (small) {
      reply.send(range ? small.subarray(start, end + 1) : small);
      return;
    }
    reply.send(createReadStream(file.path, { start, end, highWaterMark: readBufferSize(end - start + 1) }));
  }

  private async sendPartial(
    partial: PartialFile,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const size = partial.expectedSize;
    reply.header('content-type', OCTET_STREAM);
    if (partial.lastModified) reply.header('last-modified', partial.lastModified.toUTCString());
    // Without a known length a 206 is impossible: the whole file, so `wget -c` restarts cleanly.
    if (size === undefined) {
      reply.send(partial.createReader(0));
      return;
    }
    reply.header('accept-ranges', 'bytes');
    const ifRange = request.headers['if-range'] as string | undefined;
    const range = ifRangeHolds(ifRange, undefined, partial.lastModified?.toUTCString())
      ? parseRange(request.headers.range, size)
      : undefined;
    if (range === 'unsatisfiable') {
      unsatisfiable(reply, size);
      return;
    }
    writeLengthHeaders(reply, range, size);
    if (range && range.end === size - 1 && this.farAhead(partial, range.start)) {
      const direct = await this.fills.fetchRange(partial.name, range.start, size);
      if (direct) {
        reply.send(direct);
        return;
      }
    }
    reply.send(range ? partial.createReader(range.start, range.end + 1) : partial.createReader(0, size));
  }

  /** Whether the fill will not reach `offset` within half the stall timeout at its current rate. */
  private farAhead(partial: PartialFile, offset: number): boolean {
    const reach = partial.written + (partial.bytesPerSecond() * this.config.stallTimeoutMs) / 2000;
    return offset > reach;
  }

  private headMiss(name: string, reply: FastifyReply): void {
    const partial = this.fills.running(name);
    if (partial?.expectedSize === undefined) throw new NotFoundException(`${name} is not cached`);
    reply.headers({ 'accept-ranges': 'bytes', 'content-type': OCTET_STREAM });
    writeLengthHeaders(reply, undefined, partial.expectedSize);
    reply.send();
  }
}

function writeLengthHeaders(reply: FastifyReply, range: ByteRange | undefined, size: number): void {
  if (range) {
    reply.code(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('content-length', range.end - range.start + 1);
  } else {
    reply.header('content-length', size);
  }
}

function unsatisfiable(reply: FastifyReply, size: number): void {
  reply.code(416).headers({ 'content-range': `bytes */${size}`, 'content-type': 'text/plain' });
  reply.send('Range Not Satisfiable\n');
}

/** Big buffers for big files (throughput), small ones for small files (no waste per request). */
function readBufferSize(length: number): number {
  return Math.min(Math.max(length, 16 * 1024), 512 * 1024);
}

/** No client waits for a source longer than the stall timeout: it gets a 503 and comes back. */
function withDeadline<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RetryLater(`${name}: upstream mirrors are slow to answer; retry shortly`, 5)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
