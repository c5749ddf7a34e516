import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { FillsModule } from '../fills/fills.module.js';
import { JanitorModule } from '../janitor/janitor.module.js';
import { MirrorsModule } from '../mirrors/mirrors.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { AdminController } from './admin.controller.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { DirectoryImporter } from './directory-importer.service.js';
import { DistfileExplainer } from './distfile-explainer.service.js';
import { DistfileImporter } from './distfile-importer.service.js';
import { ImportController } from './import.controller.js';
import { JanitorController } from './janitor.controller.js';
import { StatsController } from './stats.controller.js';
import { StatsService } from './stats.service.js';

@Module({
  controllers: [AdminController, ImportController, JanitorController, StatsController],
  // The status page (StatusModule) answers its search box and shows the stats with these.
  exports: [DistfileExplainer, StatsService],
  imports: [CacheModule, FillsModule, JanitorModule, MirrorsModule, RepositoryModule],
  providers: [AdminTokenGuard, DirectoryImporter, DistfileExplainer, DistfileImporter, StatsService],
})
export class AdminModule {}
