import { Module } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { MirrorBalancer } from './mirror-balancer.service.js';
import { MirrorLayouts } from './mirror-layouts.service.js';
import { createUpstreamDispatcher, UPSTREAM_DISPATCHER, UpstreamClient } from './upstream-client.service.js';

@Module({
  exports: [MirrorBalancer, MirrorLayouts, UpstreamClient],
  providers: [
    MirrorBalancer,
    MirrorLayouts,
    UpstreamClient,
    { provide: UPSTREAM_DISPATCHER, inject: [PortcacheConfig], useFactory: createUpstreamDispatcher },
  ],
})
export class MirrorsModule {}
