import { Module } from '@nestjs/common';
import { AccessTracker } from './access-tracker.service.js';
import { CacheStore } from './cache-store.service.js';
import { DiskIo, NodeDiskIo } from './disk-io.js';

@Module({
  exports: [CacheStore, AccessTracker],
  providers: [CacheStore, AccessTracker, { provide: DiskIo, useClass: NodeDiskIo }],
})
export class CacheModule {}
