import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { HttpErrorFilter } from './common/http-error.filter.js';

/** Fastify as portcache needs it: long names in params, no body parsing worth speaking of. */
export function createFastifyAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    routerOptions: { maxParamLength: 1024 },
    // HEAD is declared where it means something (distfiles); Fastify's automatic one would
    // run the GET handler and overwrite Content-Length.
    exposeHeadRoutes: false,
    bodyLimit: 64 * 1024,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
}

/**
 * Nest application options shared by the server and the tests. app.close() cuts connections
 * still streaming: a client resumes with Range, a fill is re-done; waiting could take hours. The
 * server lets responses finish for PORTCACHE_SHUTDOWN_GRACE before that (graceful-shutdown.ts).
 * No body parsers from Nest (JSON, forms): no route takes a parsed body (see configureApp).
 */
export const APP_OPTIONS = { forceCloseConnections: true, bodyParser: false } as const;

/** Settings shared by the server and the end-to-end tests. */
export function configureApp(app: INestApplication): NestFastifyApplication {
  app.useGlobalFilters(new HttpErrorFilter());
  // Every body is left unread for its route. The one route that takes a body, `portcache import`,
  // streams request.raw and refuses types other than application/octet-stream with a 415; a
  // parser that read a JSON or text body first left that route waiting for bytes already gone
  // (a hung request and a leaked temporary file). Other routes ignore bodies; Node discards them.
  const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // No enableShutdownHooks(): its handler ends the process with the signal (exit 143) and
  // would close without a grace; main.ts handles SIGTERM and SIGINT (graceful-shutdown.ts).
  return app as NestFastifyApplication;
}
