import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { FillService } from './fill.service.js';

@Module({
  exports: [FillService],
  imports: [CacheModule, MirrorsModule, RepositoryModule],
  providers: [FillService],
})
export class FillsModule {}
