import { type DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AdminModule } from './admin/admin.module.js';
import { CommonModule } from './common/common.module.js';
import { PortcacheConfigModule } from './config/config.module.js';
import { DistfileModule } from './distfile/distfile.module.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { StatusModule } from './status/status.module.js';

@Module({})
export class AppModule {
  /** `env`: the PORTCACHE_* variables (process.env in production, a literal in tests). */
  static register(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PortcacheConfigModule.forRoot(env),
        CommonModule,
        ScheduleModule.forRoot(),
        MetricsModule,
        DistfileModule,
        AdminModule,
        StatusModule,
        HealthModule,
        LoggingModule,
      ],
    };
  }
}
