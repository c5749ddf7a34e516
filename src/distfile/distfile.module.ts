import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { FillsModule } from '../fills/fills.module.js';
import { VerificationModule } from '../verification/verification.module.js';
import { DistfileController } from './distfile.controller.js';

@Module({
  imports: [CacheModule, FillsModule, VerificationModule],
  providers: [DistfileController],
})
export class DistfileModule {}
