import { join } from 'node:path';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { PersistentTimes } from './persistent-times.js';

/**
 * When each cached file was last requested, kept by portcache itself (atime is useless on
 * `noatime` mounts) in `<cache>/.portcache/last-access`: a map update per hit, written in one
 * batch at most once a minute and at shutdown. The janitor's LRU and age policies read it.
 */
@Injectable()
export class AccessTracker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AccessTracker.name);
  private readonly times: PersistentTimes;

  constructor(config: PortcacheConfig) {
    const dir = join(config.cacheDir, '.portcache');
    this.times = new PersistentTimes(join(dir, 'last-access'), {
      warn: (message) => this.logger.warn(message),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.times.load();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.times.close();
  }

  touch(name: string, now = Date.now()): void {
    this.times.set(name, now);
  }

  /** The last request of `name` (ms since epoch); undefined when never recorded. */
  lastAccess(name: string): number | undefined {
    return this.times.get(name);
  }

  forget(name: string): void {
    this.times.delete(name);
  }

  /** Writes what changed now (a janitor run ends with it). */
  flush(): Promise<void> {
    return this.times.flush();
  }
}
