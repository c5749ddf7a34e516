import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { DirectRange } from './direct-range.js';
import { FillService } from './fill.service.js';
import { FillDownload } from './fill-download.js';
import { FillVerdicts } from './fill-verdicts.js';
import { SourceAttempt } from './source-attempt.js';

@Module({
  exports: [FillService, DirectRange],
  imports: [CacheModule, MirrorsModule, RepositoryModule],
  providers: [FillService, FillDownload, FillVerdicts, SourceAttempt, DirectRange],
})
export class FillsModule {}
