import { Module } from '@nestjs/common';
import { REPOSITORY_PATHS, SrcUriResolver } from './src-uri-resolver.service.js';

/** SrcUriResolver; override REPOSITORY_PATHS with the PORTCACHE_REPOS list to skip discovery. */
@Module({
  exports: [SrcUriResolver],
  providers: [SrcUriResolver, { provide: REPOSITORY_PATHS, useValue: undefined }],
})
export class RepositoryModule {}
