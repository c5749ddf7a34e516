import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { PartialFile } from '../cache/partial-file.js';
import { layoutPath } from '../distfile/layout.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { MirrorLayouts } from '../mirrors/mirror-layouts.service.js';
import {
  describeUpstreamError,
  headerValue,
  UpstreamClient,
  type UpstreamResponse,
} from '../mirrors/upstream-client.service.js';
import { copyBodyToPartial } from './partial-file-sink.js';

/** Thrown when no source has the file; its message lists what was tried. */
export class NotOnAnyMirror extends NotFoundException {
  constructor(
    name: string,
    readonly tried: string[],
  ) {
    super(`${name} not found upstream (tried ${tried.join('; ') || 'no mirror'})`);
  }
}

/** One running fill: `ready` resolves with the partial file once a source answered. */
class Fill {
  partial: PartialFile | undefined;
  readonly ready: Promise<PartialFile>;
  fail!: (error: Error) => void;
  private resolve!: (partial: PartialFile) => void;

  constructor() {
    this.ready = new Promise<PartialFile>((resolve, reject) => {
      this.resolve = resolve;
      this.fail = reject;
    });
  }

  announce(partial: PartialFile): void {
    this.partial = partial;
    this.resolve(partial);
  }
}

/**
 * Single-flight fills: the first miss of a file starts one upstream download into a
 * PartialFile; every request for the same file while it runs reads that same partial file.
 */
@Injectable()
export class FillService {
  private readonly logger = new Logger(FillService.name);
  private readonly fills = new Map<string, Fill>();

  constructor(
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly layouts: MirrorLayouts,
    private readonly upstream: UpstreamClient,
  ) {}

  /** The partial file of `name` once its source answered; rejects with NotOnAnyMirror. */
  join(name: string): Promise<PartialFile> {
    const running = this.fills.get(name);
    if (running) return running.ready;
    const fill = new Fill();
    this.fills.set(name, fill);
    this.run(name, fill)
      .catch((error: Error) => fill.fail(error))
      .finally(() => this.fills.delete(name));
    return fill.ready;
  }

  /** The partial file of a running fill whose source already answered (HEAD answers from it). */
  running(name: string): PartialFile | undefined {
    return this.fills.get(name)?.partial;
  }

  isFilling(name: string): boolean {
    return this.fills.has(name);
  }

  private async run(name: string, fill: Fill): Promise<void> {
    const tried: string[] = [];
    for (const mirror of this.balancer.candidates(name)) {
      const host = new URL(mirror).host;
      const response = await this.request(mirror, name).catch((error: unknown) => {
        tried.push(`${host}: ${describeUpstreamError(error)}`);
        return undefined;
      });
      if (!response) continue;
      const refusal = refuse(name, response);
      if (refusal) {
        tried.push(`${host}: ${refusal}`);
        await response.body.dump().catch(() => undefined);
        continue;
      }
      const partial = await this.store.createPartial(name);
      partial.expectedSize = contentLength(response);
      partial.lastModified = lastModified(response);
      fill.announce(partial);
      await this.download(partial, response, mirror);
      return;
    }
    this.logger.warn(`${name}: not found upstream (${tried.join('; ')})`);
    throw new NotOnAnyMirror(name, tried);
  }

  private async request(mirror: string, name: string): Promise<UpstreamResponse> {
    const layout = await this.layouts.layoutOf(mirror);
    const path = layoutPath(layout, name).split('/').map(encodeURIComponent).join('/');
    return this.upstream.get(`${mirror}/distfiles/${path}`);
  }

  private async download(partial: PartialFile, response: UpstreamResponse, mirror: string): Promise<void> {
    const name = partial.name;
    try {
      await copyBodyToPartial(response.body, partial);
      if (partial.expectedSize !== undefined && partial.written !== partial.expectedSize) {
        throw new Error(`upstream sent ${partial.written} of ${partial.expectedSize} bytes`);
      }
      await this.store.commit(partial, partial.end());
      this.logger.log(`${name}: cached ${partial.written} bytes from ${mirror}`);
    } catch (error) {
      const reason = describeUpstreamError(error);
      this.logger.warn(`${name}: fill from ${mirror} failed: ${reason}`);
      await this.store.discard(partial);
      partial.fail(new Error(`${name}: ${reason}`));
    }
  }
}

/** Why a response cannot be this file, or undefined when it can be used. */
function refuse(name: string, response: UpstreamResponse): string | undefined {
  if (response.statusCode !== 200) return `HTTP ${response.statusCode}`;
  const type = headerValue(response.headers, 'content-type') ?? '';
  if (/^text\/html/i.test(type) && !/\.html?$/i.test(name)) return 'sent an HTML page instead of the file';
  return undefined;
}

function contentLength(response: UpstreamResponse): number | undefined {
  const value = headerValue(response.headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function lastModified(response: UpstreamResponse): Date | undefined {
  const value = headerValue(response.headers, 'last-modified');
  const date = value ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}
