import { Injectable } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';

/** Decides which configured mirror a fill asks first. */
@Injectable()
export class MirrorBalancer {
  constructor(private readonly config: PortcacheConfig) {}

  /** Mirrors in the order to try for `name`. */
  candidates(_name: string): string[] {
    return [...this.config.mirrors];
  }
}
