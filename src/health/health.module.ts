import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { CacheDirProbe } from './cache-dir-probe.js';
import { HealthController } from './health.controller.js';
import { ServiceStatus } from './service-status.service.js';
import { StatusMetrics } from './status-metrics.js';

/** The probes, and the status gauges behind them (see StatusMetrics). Import it last: see ServiceStatus. */
@Module({
  controllers: [HealthController],
  imports: [TerminusModule.forRoot({ logger: false }), MirrorsModule, RepositoryModule],
  providers: [CacheDirProbe, ServiceStatus, StatusMetrics],
})
export class HealthModule {}
