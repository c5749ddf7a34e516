import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { PortcacheConfig } from '../config/portcache-config.js';
import type { Finding } from './degradation.js';
import { ServiceStatus } from './service-status.service.js';

/**
 * Kubernetes probes. live: the event loop answers (no I/O). ready: this instance can serve —
 * startup done, not shutting down, the cache directory readable and writable; 503 otherwise.
 * What does not stop hits (every mirror's circuit open, free space below the floor, the index
 * not built or stale, a sync failing) is reported as `degraded` with its cause and reason, and
 * the probe stays 200: with one replica, taking it out of the Service would stop the hits too.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly config: PortcacheConfig,
    private readonly status: ServiceStatus,
  ) {}

  /** Answered by the event loop without I/O; not failed by a shutdown in progress (ready is). */
  @Get('live')
  @HealthCheck()
  live() {
    const process = this.indicators.check('process').up();
    return { status: 'ok', info: process, error: {}, details: process };
  }

  /** 200 (`ok` or `degraded`) or 503, with the same body either way: what each check found. */
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.check();
    } catch (error) {
      // The error filter would answer with one line of text; the probe's body says which check failed.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      reply.code(503);
      return error.getResponse();
    }
  }

  private async check() {
    const { startup, cache, degradation } = await this.status.check();
    const dir = this.config.cacheDir;
    return this.health.check([
      () =>
        startup.ok
          ? this.indicators.check('startup').up()
          : this.indicators.check('startup').down({ reason: startup.reason }),
      () =>
        cache.ok
          ? this.indicators.check('cache').up({ dir })
          : this.indicators.check('cache').down({ dir, error: cache.error }),
      () => this.finding('index', degradation.index),
      () => this.finding('mirrors', degradation.mirrors),
      () => this.finding('disk', degradation.disk),
      () => this.finding('sync', degradation.sync),
    ]);
  }

  private finding<const Key extends string>(key: Key, finding: Finding) {
    const indicator = this.indicators.check(key);
    if (!finding.degraded) return indicator.up(finding.details);
    return indicator.degraded({ cause: finding.cause, reason: finding.reason, ...finding.details });
  }
}
