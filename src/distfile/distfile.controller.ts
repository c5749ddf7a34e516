import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { Injectable, Logger, NotFoundException, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AccessTracker } from '../cache/access-tracker.service.js';
import { BufferPool } from '../cache/buffer-pool.js';
import type { CachedFile } from '../cache/cache-store.service.js';
import { CacheStore } from '../cache/cache-store.service.js';
import type { PartialFile } from '../cache/partial-file.js';
import { describeError, writeTextError } from '../common/http-error.filter.js';
import { SERVED_LAYOUT_CONF } from '../common/layout.js';
import { loadSendfile } from '../common/sendfile.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { DirectRange } from '../fills/direct-range.js';
import { FillService } from '../fills/fill.service.js';
import { RetryLater } from '../fills/fill-slots.js';
import { requestContext } from '../logging/request-context.js';
import { Traffic } from '../metrics/traffic.service.js';
import { CacheVerifier } from '../verification/cache-verifier.service.js';
import { DISTFILES, parseDistfilePath } from './distfile-path.js';
import { type Exchange, trackExchange } from './exchange.js';
import { ifRangeHolds, notModified, parseRange } from './http-range.js';
import { lengthFields, OCTET_STREAM, unsatisfiable } from './response-fields.js';
import { type BodyOptions, sendBody } from './send-body.js';

const LAYOUT_CONF_LENGTH = String(Buffer.byteLength(SERVED_LAYOUT_CONF));

/**
 * The Gentoo mirror protocol, and the only router of `/distfiles/`: it answers every request
 * there on the raw Node request, in front of Fastify (routing a small hit through Fastify and
 * Nest cost about a fifth of its CPU time); every other URL goes on to Fastify. GLEP 75 hashed
 * and flat paths map to one stored file; a HEAD never starts a fill. Bodies are written from
 * pooled buffers (see sendBody).
 */
@Injectable()
export class DistfileController implements OnModuleInit {
  private readonly logger = new Logger(DistfileController.name);
  private readonly body: BodyOptions;
  /** Why hits are copied through a buffer instead of sent with sendfile(2), if they are. */
  private readonly sendfileMissing: string | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly verifier: CacheVerifier,
    private readonly fills: FillService,
    private readonly directRange: DirectRange,
    private readonly traffic: Traffic,
    private readonly config: PortcacheConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly access: AccessTracker,
  ) {
    const { sendfile, sendRest, missing } = config.sendfile
      ? loadSendfile()
      : { missing: 'PORTCACHE_SENDFILE=off', sendRest: undefined };
    this.sendfileMissing = missing;
    this.body = {
      // 64 KiB for small bodies; 1 MiB for big ones, at most 4 of those at a time.
      pool: new BufferPool(64 * 1024, 1024 * 1024, 4, 64),
      clientTimeoutMs: config.clientTimeoutMs,
      sendfile,
      sendRest,
    };
  }

  onModuleInit(): void {
    if (this.sendfileMissing) {
      this.logger.log(
        `cached files are sent through a buffer, not with sendfile(2): ${this.sendfileMissing}`,
      );
    }
    const server: Server = this.adapterHost.httpAdapter.getHttpServer();
    const [fastify] = server.listeners('request') as RequestListener[];
    server.removeListener('request', fastify);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.url?.startsWith(DISTFILES)) this.handle(request, response);
      else fastify(request, response);
    });
  }

  private handle(request: IncomingMessage, res: ServerResponse): void {
    // What the request came to, told to Traffic once its response has ended or been cut.
    const exchange = trackExchange(this.traffic, request, res);
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        res.writeHead(405, ['allow', 'GET, HEAD', 'content-length', '0']).end();
        return;
      }
      const path = parseDistfilePath(request.url ?? '');
      if (path.kind === 'layout') {
        exchange.outcome = 'hit';
        res.writeHead(200, [
          'content-type',
          'text/plain; charset=utf-8',
          'content-length',
          LAYOUT_CONF_LENGTH,
        ]);
        res.end(request.method === 'HEAD' ? undefined : SERVED_LAYOUT_CONF);
        return;
      }
      exchange.name = path.name;
      const cached = this.verifier.cachedFile(path.name);
      if (cached) this.sendCached(cached, request, res, exchange);
      else if (request.method === 'HEAD') {
        this.headMiss(path.name, res);
        exchange.outcome = 'miss'; // answered from a running fill or the index, without a fill
      } else {
        // Lines logged while a miss is answered (the fill it starts included) carry its id; a
        // hit logs nothing but its access line and skips the cost of a context.
        requestContext.run(exchange.id, () =>
          this.miss(path.name, request, res, exchange).catch((error) => {
            // No answer was under way: the error's status says what the request came to.
            if (!res.headersSent) exchange.outcome = undefined;
            this.fail(request, res, error);
          }),
        );
      }
    } catch (error) {
      this.fail(request, res, error);
    }
  }

  private fail(request: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (describeError(error).unexpected) {
      this.logger.error(`${request.method} ${request.url}: ${(error as Error)?.stack ?? error}`);
    }
    writeTextError(res, error);
  }

  /** A hit: 304, 416, 206 or 200, headers only for HEAD; the body from the cached open file. */
  private sendCached(
    file: CachedFile,
    request: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
  ): void {
    exchange.outcome ??= 'hit';
    exchange.source = 'cache';
    this.access.touch(file.name);
    const headers = request.headers;
    const fields = ['accept-ranges', 'bytes', 'last-modified', file.lastModified, 'etag', file.etag];
    if (notModified(headers, file.etag, file.mtimeMs)) {
      fields.push('content-type', OCTET_STREAM);
      res.writeHead(304, fields).end();
      return;
    }
    const range = ifRangeHolds(headers['if-range'] as string | undefined, file.etag, file.lastModified)
      ? parseRange(headers.range, file.size)
      : undefined;
    if (range === 'unsatisfiable') {
      unsatisfiable(res, fields, file.size);
      return;
    }
    const status = lengthFields(fields, range, file.size);
    if (request.method === 'HEAD' || file.size === 0) {
      res.writeHead(status, fields).end();
      return;
    }
    const source = this.store.open(file);
    const { start, end } = range ?? { start: 0, end: file.size - 1 };
    sendBody(res.writeHead(status, fields), source, start, end + 1, this.body);
  }

  /** A GET of a file not cached: joins (or starts) its fill; no client waits past the stall timeout for a source. */
  private async miss(
    name: string,
    request: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
  ): Promise<void> {
    // A file on disk not hashed yet (placed by hand) is verified and served, not fetched.
    const adopted = (await this.store.adoptIfPresent(name)) && this.verifier.cachedFile(name);
    if (adopted) return this.sendCached(adopted, request, res, exchange);
    exchange.outcome = this.fills.isFilling(name) ? 'joined' : 'miss';
    const partial = await withDeadline(this.fills.join(name), this.config.stallTimeoutMs, name);
    // A file without bytes has no last byte to hold back: its answer waits for the verdict.
    if (partial.expectedSize === 0) await settled(partial);
    const committed = partial.status === 'committed' ? this.verifier.cachedFile(name) : undefined;
    if (committed) return this.sendCached(committed, request, res, exchange);
    if (partial.status === 'failed') throw partial.failure ?? new Error(`${name}: the fill failed`);
    exchange.source = 'fill';
    await this.sendPartial(partial, request, res, exchange);
  }

  private async sendPartial(
    partial: PartialFile,
    request: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
  ): Promise<void> {
    const size = partial.expectedSize;
    const fields = partial.lastModified ? ['last-modified', partial.lastModified.toUTCString()] : [];
    // Without a known length a 206 is impossible: the whole file, so `wget -c` restarts cleanly.
    if (size === undefined) {
      res.writeHead(200, [...fields, 'content-type', OCTET_STREAM]);
      sendBody(res, partial.openReader(), 0, Number.POSITIVE_INFINITY, this.body);
      return;
    }
    fields.push('accept-ranges', 'bytes');
    const ifRange = request.headers['if-range'] as string | undefined;
    const range = ifRangeHolds(ifRange, undefined, partial.lastModified?.toUTCString())
      ? parseRange(request.headers.range, size)
      : undefined;
    if (range === 'unsatisfiable') {
      unsatisfiable(res, fields, size);
      return;
    }
    const status = lengthFields(fields, range, size);
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range && end === size - 1 && this.farAhead(partial, start)) {
      const direct = await this.directRange.fetch(partial, start);
      if (direct) {
        exchange.source = 'upstream';
        pipeline(direct, res.writeHead(status, fields), () => undefined);
        return;
      }
    }
    res.writeHead(status, fields);
    sendBody(res, partial.openReader(), start, end + 1, this.body);
  }

  /** Whether the fill will not reach `offset` within half the stall timeout at its current rate. */
  private farAhead(partial: PartialFile, offset: number): boolean {
    const reach = partial.written + (partial.bytesPerSecond() * this.config.stallTimeoutMs) / 2000;
    return offset > reach;
  }

  /** A HEAD never starts a fill: it answers from a running fill or the index, else 404. */
  private headMiss(name: string, res: ServerResponse): void {
    const size = this.fills.running(name)?.expectedSize ?? this.fills.knownSize(name);
    if (size === undefined) throw new NotFoundException(`${name} is not cached`);
    const fields = ['accept-ranges', 'bytes'];
    res.writeHead(lengthFields(fields, undefined, size), fields).end();
  }
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

/** Resolves once the fill of `partial` is committed or failed. */
function settled(partial: PartialFile): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (partial.status !== 'committed' && partial.status !== 'failed') return;
      partial.off('progress', check);
      resolve();
    };
    partial.on('progress', check);
    check();
  });
}
