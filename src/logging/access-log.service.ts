import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { bytesWrittenTo } from '../common/sendfile.js';
import { Traffic } from '../metrics/traffic.service.js';
import type { PortcacheLogger } from './portcache-logger.js';
import { requestContext } from './request-context.js';

/**
 * One access-log line per request: /distfiles/ requests as Traffic tells them (the distfile
 * router answers them in front of Fastify), every other route from a Fastify hook. Both take
 * their ids from Traffic, and both routers handle a request inside requestContext, so that
 * lines logged meanwhile carry its id.
 */
@Injectable()
export class AccessLog implements OnModuleInit {
  private logger: PortcacheLogger | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly traffic: Traffic,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Before Fastify starts (it takes no hook after). */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.setGenReqId(() => this.traffic.nextId());
    fastify.addHook('onRequest', (request, reply, done) => {
      const logger = this.logger;
      if (logger) {
        const res = reply.raw;
        const socket = request.raw.socket;
        const before = socket ? bytesWrittenTo(socket) : 0;
        const started = performance.now();
        res.once('close', () => {
          const url = request.url;
          const query = url.indexOf('?');
          logger.access({
            id: request.id,
            method: request.method,
            path: query < 0 ? url : url.slice(0, query),
            status: res.statusCode,
            bytes: (socket ? bytesWrittenTo(socket) : before) - before,
            durationMs: performance.now() - started,
            client: socket?.remoteAddress ?? '',
            completed: res.writableFinished,
          });
        });
      }
      requestContext.run(request.id, done);
    });
  }

  /** From now on each request gets its line in `logger`. */
  start(logger: PortcacheLogger): void {
    this.logger = logger;
    this.unsubscribe?.();
    this.unsubscribe = this.traffic.onRequest((record) => logger.access(record));
  }
}
