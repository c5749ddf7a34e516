import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { PortcacheConfig } from './portcache-config.js';

const CONFIG_KEY = 'portcache';

/** Validates the environment once and provides the typed PortcacheConfig everywhere. */
@Global()
@Module({})
export class PortcacheConfigModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: PortcacheConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          validatePredefined: false,
          load: [() => ({ [CONFIG_KEY]: PortcacheConfig.fromEnv(env) })],
        }),
      ],
      providers: [
        {
          provide: PortcacheConfig,
          inject: [ConfigService],
          useFactory: (config: ConfigService) => config.getOrThrow<PortcacheConfig>(CONFIG_KEY),
        },
      ],
      exports: [PortcacheConfig],
    };
  }
}
