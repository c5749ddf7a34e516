import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { JanitorScheduler } from './janitor.service.js';

@Module({
  exports: [JanitorScheduler],
  imports: [CacheModule, RepositoryModule],
  providers: [JanitorScheduler],
})
export class JanitorModule {}
