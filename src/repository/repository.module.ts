import { Logger, Module } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { RepositoryScheduler } from './repository-scheduler.service.js';
import { RepositorySync } from './repository-sync.js';
import { REPOSITORY_PATHS, SrcUriResolver } from './src-uri-resolver.service.js';

/**
 * SrcUriResolver over PORTCACHE_REPOS plus the repositories portcache syncs itself; with
 * neither set, the repositories are found as Portage finds them.
 */
@Module({
  exports: [SrcUriResolver, RepositoryScheduler, RepositorySync],
  providers: [
    SrcUriResolver,
    RepositoryScheduler,
    {
      provide: RepositorySync,
      inject: [PortcacheConfig],
      useFactory: (config: PortcacheConfig) =>
        new RepositorySync({
          dataDir: config.dataDir,
          urls: config.syncRepos,
          proxy: config.proxy,
          logger: new Logger(RepositorySync.name),
        }),
    },
    {
      provide: REPOSITORY_PATHS,
      inject: [PortcacheConfig, RepositorySync],
      useFactory: (config: PortcacheConfig, sync: RepositorySync) => {
        const paths = [...config.repos, ...sync.repositories.map((repo) => repo.path)];
        return paths.length > 0 ? paths : undefined;
      },
    },
  ],
})
export class RepositoryModule {}
