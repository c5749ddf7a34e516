import { access, constants } from 'node:fs/promises';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { PortcacheConfig } from '../config/portcache-config.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';

/**
 * Kubernetes probes: live = the process answers; ready = the cache directory is writable. Ready
 * also reports whether the repository index is built; hits and mirror fills are served while it
 * builds, so it does not hold readiness back.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly config: PortcacheConfig,
    private readonly resolver: SrcUriResolver,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up()]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.cacheDirWritable(), () => this.index()]);
  }

  private index() {
    const snapshot = this.resolver.snapshot;
    return this.indicators.check('index').up({
      built: snapshot !== undefined,
      distfiles: snapshot?.size ?? 0,
      repositories: snapshot?.repositories.map((repo) => repo.name) ?? [],
    });
  }

  private async cacheDirWritable() {
    const indicator = this.indicators.check('cache');
    try {
      await access(this.config.cacheDir, constants.W_OK);
      return indicator.up({ dir: this.config.cacheDir });
    } catch (error) {
      return indicator.down({ dir: this.config.cacheDir, error: (error as Error).message });
    }
  }
}
