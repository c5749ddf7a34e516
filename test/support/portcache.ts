import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, type LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { APP_OPTIONS, configureApp, createFastifyAdapter } from '../../src/app.js';
import { AppModule } from '../../src/app.module.js';
import { DiskIo } from '../../src/cache/disk-io.js';
import { installLogging } from '../../src/logging/install-logging.js';
import type { LogOutput } from '../../src/logging/log-writer.js';
import { MirrorBalancer } from '../../src/mirrors/mirror-balancer.service.js';

export interface RunningPortcache {
  app: NestFastifyApplication;
  url: string;
  cacheDir: string;
  close(options?: { keepCacheDir?: boolean }): Promise<void>;
}

export async function makeTempDir(prefix = 'portcache-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A real portcache (Nest + Fastify) on 127.0.0.1:<random port> with a fresh temp cache dir. */
export async function startPortcache(
  env: Record<string, string>,
  /** logOutput: log through portcache's own logger (and write the access log) to it, as the server does. */
  overrides: { diskIo?: DiskIo; cacheDir?: string; logOutput?: LogOutput } = {},
): Promise<RunningPortcache> {
  const cacheDir = overrides.cacheDir ?? (await makeTempDir());
  let builder = Test.createTestingModule({
    imports: [
      AppModule.register({
        PORTCACHE_CACHE_DIR: cacheDir,
        PORTCACHE_CONNECT_TIMEOUT: '2s',
        // Test SRC_URI hosts listen on 127.0.0.1, which is not public.
        PORTCACHE_TRUSTED_NETS: '127.0.0.1',
        ...env,
      }),
    ],
  });
  if (overrides.diskIo) builder = builder.overrideProvider(DiskIo).useValue(overrides.diskIo);
  const moduleRef = await builder.compile();
  // Tests assert which mirror is asked when: no random exploration.
  moduleRef.get(MirrorBalancer).explorationRate = 0;
  const app = configureApp(
    moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(), {
      ...APP_OPTIONS,
      logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : ['error'],
    }),
  );
  // Nest's logger is process-wide: the next app of this test file gets the previous one back.
  const previousLogger = (Logger as unknown as { staticInstanceRef?: LoggerService }).staticInstanceRef;
  const logging = overrides.logOutput ? installLogging(app, overrides.logOutput, false) : undefined;
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  return {
    app,
    url: url.replace('[::1]', '127.0.0.1'),
    cacheDir,
    async close({ keepCacheDir = false } = {}) {
      await app.close();
      if (logging) {
        await logging.writer.drain(1000);
        Logger.overrideLogger(previousLogger ?? false);
      }
      if (!keepCacheDir) await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
