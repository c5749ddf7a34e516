import { Module } from '@nestjs/common';
import { AddressRules } from '../common/address-rules.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import { MirrorBalancer } from './mirror-balancer.service.js';
import { MirrorLayouts } from './mirror-layouts.service.js';
import { UpstreamClient } from './upstream-client.service.js';
import { createUpstreamDispatcher, UPSTREAM_DISPATCHER } from './upstream-connections.js';
import { ProxyRoutes } from './upstream-proxy.js';

@Module({
  exports: [MirrorBalancer, MirrorLayouts, UpstreamClient],
  providers: [
    MirrorBalancer,
    MirrorLayouts,
    UpstreamClient,
    {
      provide: AddressRules,
      inject: [PortcacheConfig],
      useFactory: (config: PortcacheConfig) => new AddressRules(config.mirrors, config.trustedNets),
    },
    {
      provide: ProxyRoutes,
      inject: [PortcacheConfig],
      useFactory: (config: PortcacheConfig) => new ProxyRoutes(config.proxy),
    },
    {
      provide: UPSTREAM_DISPATCHER,
      inject: [PortcacheConfig, AddressRules, ProxyRoutes],
      useFactory: createUpstreamDispatcher,
    },
  ],
})
export class MirrorsModule {}
