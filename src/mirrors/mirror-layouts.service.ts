import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { FLAT, type Layout, layoutPath, parseLayoutConf } from '../common/layout.js';
import { headerValue, UpstreamClient } from './upstream-client.service.js';

const LAYOUT_TTL_MS = 24 * 3600_000;

/**
 * Each mirror's `distfiles/layout.conf`, re-read daily. No file or an unparsable one means
 * flat; a mirror that cannot be reached is not cached, so it is asked again next time.
 */
@Injectable()
export class MirrorLayouts {
  private readonly logger = new Logger(MirrorLayouts.name);
  private readonly known = new Map<string, { layout: Layout; expires: number }>();
  private readonly pending = new Map<string, Promise<Layout>>();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly clock: Clock,
  ) {}

  /** The URL of `name` on `mirror`, in the mirror's layout. */
  async urlOf(mirror: string, name: string): Promise<string> {
    const path = layoutPath(await this.layoutOf(mirror), name)
      .split('/')
      .map(encodeURIComponent)
      .join('/');
    return `${mirror}/distfiles/${path}`;
  }

  async layoutOf(mirror: string): Promise<Layout> {
    const known = this.known.get(mirror);
    if (known && known.expires > this.clock.now()) return known.layout;
    let pending = this.pending.get(mirror);
    if (!pending) {
      pending = this.fetchLayout(mirror).finally(() => this.pending.delete(mirror));
      this.pending.set(mirror, pending);
    }
    return pending;
  }

  private async fetchLayout(mirror: string): Promise<Layout> {
    const response = await this.upstream.get(`${mirror}/distfiles/layout.conf`);
    let layout = FLAT;
    const type = headerValue(response.headers, 'content-type') ?? '';
    if (response.statusCode === 200 && !type.includes('html')) {
      layout = parseLayoutConf(await response.body.text());
    } else {
      await response.body.dump();
      if (response.statusCode >= 500) throw new Error(`layout.conf: HTTP ${response.statusCode}`);
    }
    this.known.set(mirror, { layout, expires: this.clock.now() + LAYOUT_TTL_MS });
    this.logger.log(
      `${mirror}: layout ${layout.kind === 'flat' ? 'flat' : `${layout.kind} ${layout.algorithm} ${layout.cutoffs.join(':')}`}`,
    );
    return layout;
  }
}
