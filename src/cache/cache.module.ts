import { Module } from '@nestjs/common';
import { CacheStore } from './cache-store.service.js';
import { DiskIo, NodeDiskIo } from './disk-io.js';

@Module({
  exports: [CacheStore],
  providers: [CacheStore, { provide: DiskIo, useClass: NodeDiskIo }],
})
export class CacheModule {}
