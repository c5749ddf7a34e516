import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { Metrics } from './metrics.service.js';
import { Traffic } from './traffic.service.js';

@Global()
@Module({
  controllers: [MetricsController],
  exports: [Metrics, Traffic],
  providers: [Metrics, Traffic],
})
export class MetricsModule {}
