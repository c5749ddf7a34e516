import { lookup as dnsLookupAsync } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type Dispatcher, request } from 'undici';
import { AddressRules, redirectTarget } from '../common/address-rules.js';
import { PortcacheConfig } from '../config/portcache-config.js';
import type { BodyStream } from './body-stream.js';
import { NotPlain, type PlainConnect, plainGet } from './plain-http.js';
import { plainConnector, UPSTREAM_DISPATCHER, UpstreamRefused } from './upstream-connections.js';
import { ProxyRoutes } from './upstream-proxy.js';

const USER_AGENT = 'portcache/0.1 (Gentoo distfiles cache)';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface UpstreamResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

/** A response of getBulk: undici's, or plainGet's, whose body has only what a fill uses. */
export interface BulkResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: BodyStream & { dump(): Promise<unknown> };
}

/**
 * Plain GETs to upstream hosts with undici. Never sends Accept-Encoding: a mirror must hand
 * over a `.tar.gz` byte for byte, not gunzip or re-gzip it.
 */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  private readonly plainConnect: PlainConnect;

  constructor(
    @Inject(UPSTREAM_DISPATCHER) private readonly dispatcher: Dispatcher,
    private readonly rules: AddressRules,
    private readonly config: PortcacheConfig,
    private readonly routes: ProxyRoutes,
  ) {
    this.plainConnect = plainConnector(config, rules);
  }

  /**
   * GET `url`, following http(s) redirects (at most MAX_REDIRECTS) to hosts the address rules
   * allow. A refused URL, hop or address rejects with UpstreamRefused.
   */
  async get(url: string, options: { from?: number; signal?: AbortSignal } = {}): Promise<UpstreamResponse> {
    return this.follow(url, options.from, (target, headers) => this.hop(target, headers, options.signal));
  }

  /**
   * get() for a big body (a fill). A hop to a plain-HTTP URL without a proxy goes on a connection
   * of its own that reads into one reused buffer (plainGet); one whose answer plainGet does not
   * take (1xx, a chunked body) is asked again through undici.
   */
  getBulk(url: string, options: { from?: number } = {}): Promise<BulkResponse> {
    return this.follow<BulkResponse>(url, options.from, (target, headers) =>
      target.protocol === 'http:' && !this.routes.proxyFor(target)
        ? this.plainHop(target, headers)
        : this.hop(target, headers),
    );
  }

  /** Follows http(s) redirects (at most MAX_REDIRECTS) to hosts the address rules allow. */
  private async follow<R extends BulkResponse>(
    url: string,
    from: number | undefined,
    hop: (target: URL, headers: Record<string, string>) => Promise<R>,
  ): Promise<R> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (from) headers.range = `bytes=${from}-`;
    let target = new URL(url);
    for (let followed = 0; ; followed++) {
      let response: R;
      try {
        // The connector refuses the same IP literals; checking here saves a connection attempt.
        const refusal = this.rules.urlRefusal(target);
        if (refusal) throw new UpstreamRefused(refusal);
        response = await hop(target, headers);
      } catch (error) {
        // Name the hop: the caller's logs and 404 bodies show only the URL it asked for.
        if (followed > 0 && error instanceof UpstreamRefused) {
          throw new UpstreamRefused(`redirect to ${target.href}: ${error.reason}`);
        }
        throw error;
      }
      const location = REDIRECTS.has(response.statusCode)
        ? headerValue(response.headers, 'location')
        : undefined;
      if (location === undefined) return response;
      // Redirect bodies are a few bytes of HTML; dump() gives up on large ones and closes the connection.
      await response.body.dump().catch(() => undefined);
      const next = redirectTarget(target, location, followed);
      if (typeof next === 'string') throw new UpstreamRefused(next);
      target = next;
    }
  }

  private async plainHop(target: URL, headers: Record<string, string>): Promise<BulkResponse> {
    try {
      return await plainGet(target, headers, this.plainConnect, this.config.stallTimeoutMs);
    } catch (error) {
      if (error instanceof NotPlain) return this.hop(target, headers);
      throw error;
    }
  }

  private async hop(
    target: URL,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    if (this.routes.proxyFor(target)) await this.judgeProxiedHost(target, signal);
    const response = await request(target, { dispatcher: this.dispatcher, method: 'GET', headers, signal });
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  }

  /**
   * The proxy resolves a host name itself, out of the connector's reach: judge what the name
   * resolves to here first. Left to the proxy: a name resolving differently there (later, or on
   * its own DNS), and a name this host cannot resolve at all, which is common where only the
   * proxy reaches outside DNS; what those reach is the proxy's policy. Mirror hosts and IP
   * literals are judged already (urlRefusal).
   */
  private async judgeProxiedHost(target: URL, signal: AbortSignal | undefined): Promise<void> {
    const host = target.hostname;
    if (this.rules.isMirrorHost(host) || host.startsWith('[') || isIP(host)) return;
    const addresses = await resolveHere(host, this.config.connectTimeoutMs, signal);
    const refusal = addresses && this.rules.proxiedAnswerRefusal(host, addresses);
    if (refusal) throw new UpstreamRefused(refusal);
  }

  async onModuleDestroy(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

/** The addresses `host` resolves to here; undefined when it does not resolve within `timeoutMs`. */
async function resolveHere(
  host: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<string[] | undefined> {
  signal?.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<undefined>((resolve, reject) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const lookup = dnsLookupAsync(host, { all: true }).then(
    (answer) => answer.map(({ address }) => address),
    () => undefined,
  );
  try {
    return await Promise.race([lookup, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

export function headerValue(headers: BulkResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Why a request to an upstream failed, in a few words for logs and 404 bodies. */
export function describeUpstreamError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case 'PORTCACHE_UPSTREAM_REFUSED':
      return e.message ?? 'refused';
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
