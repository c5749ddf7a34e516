import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { RepositoryModule } from '../repository/repository.module.js';
import { CacheVerifier } from './cache-verifier.service.js';

@Module({
  exports: [CacheVerifier],
  imports: [CacheModule, RepositoryModule],
  providers: [CacheVerifier],
})
export class VerificationModule {}
