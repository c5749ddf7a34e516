import { Dispatcher, Pool, ProxyAgent } from 'undici';
import type { ProxyRoutes } from './upstream-proxy.js';

export interface ProxyTimeouts {
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/**
 * An undici ProxyAgent for one proxy, with portcache's timeouts on every leg: connecting to
 * the proxy, its answer to CONNECT, the TLS handshake inside the tunnel, the response. https:
 * targets go through a CONNECT tunnel; http: targets are sent to an http:// proxy in absolute
 * form. The connection to the proxy is not judged by the address rules: the operator chose it.
 */
export function createProxyAgent(proxy: URL, timeouts: ProxyTimeouts): Dispatcher {
  const responseTimeouts = {
    headersTimeout: timeouts.stallTimeoutMs,
    bodyTimeout: timeouts.stallTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
  };
  return new ProxyAgent({
    uri: proxy.href,
    proxyTunnel: false,
    proxyTls: { timeout: timeouts.connectTimeoutMs },
    requestTls: { timeout: timeouts.connectTimeoutMs },
    ...responseTimeouts,
    // The CONNECT client and the absolute-form pools get undici's defaults (300 s) otherwise.
    clientFactory: (origin, options) => new Pool(origin, { ...responseTimeouts, ...options }),
    factory: (origin, options) => new Pool(origin, { ...responseTimeouts, ...options }),
  });
}

/** Sends each request through the proxy ProxyRoutes names for its origin, or to `direct`. */
export class ProxyRouter extends Dispatcher {
  constructor(
    private readonly routes: ProxyRoutes,
    private readonly direct: Dispatcher,
    /** By proxy URL (href). */
    private readonly proxied: ReadonlyMap<string, Dispatcher>,
  ) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = options.origin ?? '';
    const proxy = this.routes.proxyFor(typeof origin === 'string' ? new URL(origin) : origin);
    const dispatcher = proxy ? this.proxied.get(proxy.href) : this.direct;
    if (!dispatcher) throw new Error(`no dispatcher for proxy ${proxy?.host}`);
    return dispatcher.dispatch(options, handler);
  }

  override close(callback: () => void): void;
  override close(): Promise<void>;
  override close(callback?: () => void): Promise<void> | void {
    return settle(Promise.all(this.all().map((dispatcher) => dispatcher.close())), callback);
  }

  override destroy(error: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    const error = typeof first === 'function' ? null : (first ?? null);
    const callback = typeof first === 'function' ? first : second;
    return settle(Promise.all(this.all().map((dispatcher) => dispatcher.destroy(error))), callback);
  }

  private all(): Dispatcher[] {
    return [this.direct, ...new Set(this.proxied.values())];
  }
}

function settle(done: Promise<unknown>, callback: (() => void) | undefined): Promise<void> | void {
  const finished = done.then(() => undefined);
  if (!callback) return finished;
  void finished.then(callback, callback);
}
