import { access, constants } from 'node:fs/promises';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { PortcacheConfig } from '../config/portcache-config.js';

/** Kubernetes probes: live = the process answers; ready = the cache directory is writable. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly config: PortcacheConfig,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up()]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.cacheDirWritable()]);
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
