import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { APP_OPTIONS, configureApp, createFastifyAdapter } from './app.js';
import { AppModule } from './app.module.js';
import { PortcacheConfig } from './config/portcache-config.js';
import { ConfigError } from './config/portcache-env.js';
import { stopGracefullyOnSignals } from './graceful-shutdown.js';
import { installLogging } from './logging/install-logging.js';

/** How long the log may take to reach its reader when the process exits. */
const LOG_DRAIN_MS = 2000;

async function bootstrap(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let app: NestFastifyApplication;
  try {
    app = await NestFactory.create<NestFastifyApplication>(
      AppModule.register(process.env),
      createFastifyAdapter(),
      {
        ...APP_OPTIONS,
        abortOnError: false,
        logger: ['fatal', 'error', 'warn', 'log'],
        // Startup lines wait for PortcacheLogger, which needs the configuration.
        bufferLogs: true,
      },
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`portcache: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const { writer, format } = installLogging(app, process.stdout, process.stdout.isTTY === true);
  process.on('exit', () => writer.flushSync());
  configureApp(app);
  const config = app.get(PortcacheConfig);
  stopGracefullyOnSignals(app, config.shutdownGraceMs, () => writer.drain(LOG_DRAIN_MS));
  await app.listen(config.port, config.host);
  // The URL is followed by a space: tools find it with /on (http:\/\/\S+)/, JSON lines too.
  new Logger('portcache').log(`serving ${config.cacheDir} on ${await app.getUrl()} (logs: ${format})`);
}

void bootstrap();
