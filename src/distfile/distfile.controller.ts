import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import {
  Controller,
  Get,
  Head,
  Header,
  NotFoundException,
  type OnModuleInit,
  Param,
  Req,
  Res,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BufferPool } from '../cache/buffer-pool.js';
import type { CachedFile } from '../cache/cache-store.service.js';
import { CacheStore } from '../cache/cache-store.service.js';
import type { PartialFile } from '../cache/partial-file.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { DirectRange } from '../fills/direct-range.js';
import { FillService } from '../fills/fill.service.js';
import { RetryLater } from '../fills/fill-slots.js';
import { Metrics } from '../metrics/metrics.service.js';
import { CacheVerifier } from '../verification/cache-verifier.service.js';
import { isValidDistfileName, validateDistfileName, validateHashedPrefix } from './distfile-name.js';
import { type ByteRange, ifRangeHolds, notModified, parseRange } from './http-range.js';
import { blake2bPrefix, SERVED_LAYOUT_CONF } from '../common/layout.js';
import { sendBody } from './send-body.js';

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
const UNSATISFIABLE = 'Range Not Satisfiable\n';

/**
 * The Gentoo mirror protocol: GLEP 75 hashed and flat paths map to one stored file. A HEAD never
 * starts a fill. Bodies are written to the raw response from pooled buffers (see sendBody).
 */
@Controller('distfiles')
export class DistfileController implements OnModuleInit {
  private readonly hits = this.metrics.requests.labels('hit');
  /** 64 KiB for small bodies; 1 MiB for big ones, at most 4 of those at a time. */
  private readonly buffers = new BufferPool(64 * 1024, 1024 * 1024, 4, 64);
  /** Fills started by startFill(), for the route that handles the same request. */
  private readonly earlyJoins = new WeakMap<IncomingMessage, Promise<PartialFile>>();

  constructor(
    private readonly store: CacheStore,
    private readonly verifier: CacheVerifier,
    private readonly fills: FillService,
    private readonly directRange: DirectRange,
    private readonly metrics: Metrics,
    private readonly config: PortcacheConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /**
   * Hits skip Fastify and Nest (about a fifth of the CPU time of a small hit): a GET or HEAD of
   * a cached file by a plain path (nothing percent-encoded, no query) is answered by answerHit()
   * in front of Fastify's request handler, through the same verifier.cachedFile() and
   * sendCached() as the routes below. Everything else goes on to Fastify and the routes.
   */
  onModuleInit(): void {
    const server: Server = this.adapterHost.httpAdapter.getHttpServer();
    const [fastify] = server.listeners('request') as RequestListener[];
    server.removeListener('request', fastify);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (this.answerHit(request, response)) return;
      // A miss's fill runs first, up to sending its upstream request; the route comes after.
      if (this.earlyJoins.has(request)) setImmediate(fastify, request, response);
      else fastify(request, response);
    });
  }

  /** Answers a hit by a plain path; false, having sent nothing, for any other request. */
  private answerHit(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const path = plainDistfilePath(request.url ?? '');
    if (!path || !isValidDistfileName(path.name)) return false;
    const file = this.verifier.cachedFile(path.name);
    if (!file) {
      if (request.method === 'GET') this.startFill(request, path);
      return false;
    }
    if (path.prefix !== undefined && path.prefix !== file.prefix) return false;
    try {
      this.sendCached(file, request, () => response);
    } catch {
      return false; // e.g. the file vanished: the route answers, through the exception filter
    }
    return true;
  }

  /**
   * A GET miss by a plain path starts its fill here, before Fastify and Nest route the request
   * (about 0.3 ms of a miss's time to first byte); the route's serve() takes over the same join.
   */
  private startFill(request: IncomingMessage, path: { prefix?: string; name: string }): void {
    if (path.prefix !== undefined && path.prefix !== blake2bPrefix(path.name)) return;
    const joined = this.fills.join(path.name);
    joined.catch(() => undefined); // serve() handles the failure
    this.earlyJoins.set(request, joined);
  }

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
    const cached = this.verifier.cachedFile(name);
    if (cached) return this.sendCached(cached, request.raw, () => hijack(reply));
    if (request.method === 'HEAD') return this.headMiss(name, reply);
    this.metrics.requests.inc({ result: 'miss' });
    const joined = this.earlyJoins.get(request.raw) ?? this.fills.join(name);
    const partial = await withDeadline(joined, this.config.stallTimeoutMs, name);
    const committed = partial.status === 'committed' ? this.verifier.cachedFile(name) : undefined;
    if (committed) return this.sendCached(committed, request.raw, () => hijack(reply));
    await this.sendPartial(partial, request, reply);
  }

  /**
   * A hit: 304, 416, 206 or 200, headers only for HEAD; the body from the cached open file.
   * `response` is called once the answer is certain: an error before that is still a 500.
   */
  private sendCached(file: CachedFile, request: IncomingMessage, response: () => ServerResponse): void {
    this.hits.inc();
    const headers = request.headers;
    const fields = ['accept-ranges', 'bytes', 'last-modified', file.lastModified, 'etag', file.etag];
    if (notModified(headers, file.etag, file.mtimeMs)) {
      fields.push('content-type', OCTET_STREAM);
      response().writeHead(304, fields).end();
      return;
    }
    const range = ifRangeHolds(headers['if-range'] as string | undefined, file.etag, file.lastModified)
      ? parseRange(headers.range, file.size)
      : undefined;
    if (range === 'unsatisfiable') {
      unsatisfiable(response(), fields, file.size);
      return;
    }
    const status = lengthFields(fields, range, file.size);
    if (request.method === 'HEAD' || file.size === 0) {
      response().writeHead(status, fields).end();
      return;
    }
    const source = this.store.open(file);
    const { start, end } = range ?? { start: 0, end: file.size - 1 };
    sendBody(response().writeHead(status, fields), source, start, end + 1, this.buffers);
  }

  private async sendPartial(
    partial: PartialFile,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const size = partial.expectedSize;
    const fields = partial.lastModified ? ['last-modified', partial.lastModified.toUTCString()] : [];
    // Without a known length a 206 is impossible: the whole file, so `wget -c` restarts cleanly.
    if (size === undefined) {
      const res = hijack(reply).writeHead(200, [...fields, 'content-type', OCTET_STREAM]);
      sendBody(res, partial.openReader(), 0, Number.POSITIVE_INFINITY, this.buffers);
      return;
    }
    fields.push('accept-ranges', 'bytes');
    const ifRange = request.headers['if-range'] as string | undefined;
    const range = ifRangeHolds(ifRange, undefined, partial.lastModified?.toUTCString())
      ? parseRange(request.headers.range, size)
      : undefined;
    if (range === 'unsatisfiable') {
      unsatisfiable(hijack(reply), fields, size);
      return;
    }
    const status = lengthFields(fields, range, size);
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range && end === size - 1 && this.farAhead(partial, start)) {
      const direct = await this.directRange.fetch(partial, start);
      if (direct) {
        pipeline(direct, hijack(reply).writeHead(status, fields), () => undefined);
        return;
      }
    }
    const res = hijack(reply).writeHead(status, fields);
    sendBody(res, partial.openReader(), start, end + 1, this.buffers);
  }

  /** Whether the fill will not reach `offset` within half the stall timeout at its current rate. */
  private farAhead(partial: PartialFile, offset: number): boolean {
    const reach = partial.written + (partial.bytesPerSecond() * this.config.stallTimeoutMs) / 2000;
    return offset > reach;
  }

  /** A HEAD never starts a fill: it answers from a running fill or the index, else 404. */
  private headMiss(name: string, reply: FastifyReply): void {
    const size = this.fills.running(name)?.expectedSize ?? this.fills.knownSize(name);
    if (size === undefined) throw new NotFoundException(`${name} is not cached`);
    const fields = ['accept-ranges', 'bytes'];
    hijack(reply)
      .writeHead(lengthFields(fields, undefined, size), fields)
      .end();
  }
}

/** Adds the length fields of a body response (`range` undefined: the whole file); its status. */
function lengthFields(fields: string[], range: ByteRange | undefined, size: number): number {
  if (!range) {
    fields.push('content-type', OCTET_STREAM, 'content-length', String(size));
    return 200;
  }
  fields.push(
    'content-type',
    OCTET_STREAM,
    'content-range',
    `bytes ${range.start}-${range.end}/${size}`,
    'content-length',
    String(range.end - range.start + 1),
  );
  return 206;
}

/** Takes the response over from Fastify: header fields go to writeHead() as name, value, name, value... */
function hijack(reply: FastifyReply): ServerResponse {
  reply.hijack();
  return reply.raw;
}

function unsatisfiable(res: ServerResponse, fields: string[], size: number): void {
  fields.push('content-range', `bytes */${size}`, 'content-type', 'text/plain');
  fields.push('content-length', String(UNSATISFIABLE.length));
  res.writeHead(416, fields).end(UNSATISFIABLE);
}

/** `/distfiles/<name>` or `/distfiles/<xx>/<name>` with nothing to decode, else undefined. */
function plainDistfilePath(url: string): { prefix?: string; name: string } | undefined {
  if (!url.startsWith('/distfiles/') || url.includes('%') || url.includes('?')) return undefined;
  const rest = url.slice('/distfiles/'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return rest === 'layout.conf' ? undefined : { name: rest };
  if (slash !== 2 || rest.includes('/', 3)) return undefined;
  return { prefix: rest.slice(0, 2), name: rest.slice(3) };
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
