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
 * Nest application options shared by the server and the tests. On shutdown, connections still
 * streaming are cut: a client resumes with Range, a fill is re-done; waiting could take hours.
 */
export const APP_OPTIONS = { forceCloseConnections: true } as const;

/** Settings shared by the server and the end-to-end tests. */
export function configureApp(app: INestApplication): NestFastifyApplication {
  app.useGlobalFilters(new HttpErrorFilter());
  // `portcache import` uploads a file: the handler streams request.raw, nothing is buffered.
  (app as NestFastifyApplication)
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null));
  app.enableShutdownHooks();
  return app as NestFastifyApplication;
}
