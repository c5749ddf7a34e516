import { Controller, Get } from '@nestjs/common';
import { type FillProgress, FillService } from '../fills/fill.service.js';
import { type StatsReport, StatsService } from './stats.service.js';

/** What the cache does, for a person (`portcache status`) or a script. Read-only, no token. */
@Controller('api/v1')
export class StatsController {
  constructor(
    private readonly stats: StatsService,
    private readonly fills: FillService,
  ) {}

  /** Hit ratio and bytes by source since start and over 24 h, bytes saved upstream, cache usage, top files. */
  @Get('stats')
  report(): Promise<StatsReport> {
    return this.stats.report();
  }

  /** Each running fill or import: name, source, bytes so far of total, rate, clients. */
  @Get('fills')
  list(): FillProgress[] {
    return this.fills.list();
  }
}
