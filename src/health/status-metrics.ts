import { Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { degradedCauses } from './degradation.js';
import { ServiceStatus } from './service-status.service.js';

/**
 * Gives the scrape-time gauges of Metrics their readings: mirror scores and circuits, the
 * index's age and build time, readiness, degraded causes and the cache's filesystem. Metrics
 * sits below every module (they count into it), so the readings are handed to it from here.
 */
@Injectable()
export class StatusMetrics {
  constructor(metrics: Metrics, balancer: MirrorBalancer, resolver: SrcUriResolver, status: ServiceStatus) {
    metrics.mirrorReadings = () => balancer.snapshot();
    metrics.indexReading = () => ({ refreshedAt: resolver.lastRefreshAt, buildMs: resolver.lastBuildMs });
    metrics.statusReading = async () => {
      const report = await status.check();
      return {
        ready: report.ready,
        degraded: degradedCauses(report.degradation),
        filesystem: report.filesystem,
      };
    };
  }
}
