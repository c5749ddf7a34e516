import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { JanitorScheduler } from '../janitor/janitor.service.js';
import type { JanitorReport } from '../janitor/janitor-report.js';
import { AdminTokenGuard } from './admin-token.guard.js';

/** The janitor for the admin: what a run would do now, and a run now (`portcache gc`). */
@Controller('api/v1/janitor')
export class JanitorController {
  constructor(private readonly janitor: JanitorScheduler) {}

  /** A dry run: what would go and why, bytes per reason. Changes nothing. */
  @Get('plan')
  plan(): Promise<JanitorReport> {
    return this.janitor.plan();
  }

  /** Runs now (or joins the run in progress) and answers with what it did. */
  @Post('run')
  @UseGuards(AdminTokenGuard)
  @HttpCode(200)
  run(): Promise<JanitorReport> {
    return this.janitor.run();
  }
}
