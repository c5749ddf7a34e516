import { Module } from '@nestjs/common';
import { AdminModule } from '../admin/admin.module.js';
import { CacheModule } from '../cache/cache.module.js';
import { FillsModule } from '../fills/fills.module.js';
import { JanitorModule } from '../janitor/janitor.module.js';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { StatusController } from './status.controller.js';
import { StatusService } from './status.service.js';
import { TrafficHistory } from './traffic-history.js';

/** The browser status page (`/`, `/status`) and its data (`/api/v1/status`). */
@Module({
  controllers: [StatusController],
  imports: [AdminModule, CacheModule, FillsModule, JanitorModule, MirrorsModule, RepositoryModule],
  // TrafficHistory a provider of its own: a test (the README's screenshot) can give it a past.
  providers: [StatusService, TrafficHistory],
})
export class StatusModule {}
