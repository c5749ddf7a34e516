import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { APP_OPTIONS, configureApp, createFastifyAdapter } from './app.js';
import { AppModule } from './app.module.js';
import { PortcacheConfig } from './config/portcache-config.js';
import { ConfigError } from './config/portcache-env.js';

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
        logger: ['error', 'warn', 'log'],
      },
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`portcache: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  configureApp(app);
  const config = app.get(PortcacheConfig);
  await app.listen(config.port, config.host);
  new Logger('portcache').log(`serving ${config.cacheDir} on ${await app.getUrl()}`);
}

void bootstrap();
