import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { FillsModule } from '../fills/fills.module.js';
import { JanitorModule } from '../janitor/janitor.module.js';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { AdminController } from './admin.controller.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { DistfileImporter } from './distfile-importer.service.js';
import { JanitorController } from './janitor.controller.js';

@Module({
  controllers: [AdminController, JanitorController],
  imports: [CacheModule, FillsModule, JanitorModule, MirrorsModule, RepositoryModule],
  providers: [AdminTokenGuard, DistfileImporter],
})
export class AdminModule {}
