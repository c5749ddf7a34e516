import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { PortcacheConfig } from '../config/portcache-config.js';

export const UPSTREAM_DISPATCHER = Symbol('UPSTREAM_DISPATCHER');

const MAX_REDIRECTS = 5;
const USER_AGENT = 'portcache/0.1 (Gentoo distfiles cache)';

export function createUpstreamDispatcher(config: PortcacheConfig): Dispatcher {
  return new Agent({
    connect: { timeout: config.connectTimeoutMs },
    headersTimeout: config.stallTimeoutMs,
    bodyTimeout: config.stallTimeoutMs,
    keepAliveTimeout: 30_000,
  }).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

/**
 * Plain GETs to upstream hosts with undici. Never sends Accept-Encoding: a mirror must hand
 * over a `.tar.gz` byte for byte, not gunzip or re-gzip it.
 */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  constructor(@Inject(UPSTREAM_DISPATCHER) private readonly dispatcher: Dispatcher) {}

  async get(url: string, options: { from?: number; signal?: AbortSignal } = {}): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (options.from) headers.range = `bytes=${options.from}-`;
    const response = await request(url, {
      dispatcher: this.dispatcher,
      method: 'GET',
      headers,
      signal: options.signal,
    });
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  }

  async onModuleDestroy(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

export function headerValue(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Why a request to an upstream failed, in a few words for logs and 404 bodies. */
export function describeUpstreamError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no response headers in time';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'stalled mid-body';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return e.code ? `${e.code}${e.message ? ` (${e.message})` : ''}` : (e.message ?? String(error));
  }
}
