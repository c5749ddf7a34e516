import { Module } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { AccessTracker } from './access-tracker.service.js';
import { CacheStore } from './cache-store.service.js';
import { DiskIo, NodeDiskIo } from './disk-io.js';
import { HashThreads } from './hash-threads.js';

@Module({
  exports: [CacheStore, AccessTracker, HashThreads],
  providers: [
    CacheStore,
    AccessTracker,
    { provide: DiskIo, useClass: NodeDiskIo },
    {
      provide: HashThreads,
      useFactory: (config: PortcacheConfig) => new HashThreads(config.hashThreads),
      inject: [PortcacheConfig],
    },
  ],
})
export class CacheModule {}
