import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { isIP, type LookupFunction } from 'node:net';
import { Logger } from '@nestjs/common';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { AddressRules } from '../common/address-rules.js';
import type { PortcacheConfig } from '../config/portcache-config.js';
import type { PlainConnect } from './plain-http.js';
import { createProxyAgent, ProxyRouter } from './proxy-dispatcher.js';
import { type ProxyRoutes, redactProxy } from './upstream-proxy.js';

export const UPSTREAM_DISPATCHER = Symbol('UPSTREAM_DISPATCHER');

const KEEP_ALIVE_MS = 30_000;

/** An upstream URL, redirect or address portcache will not use; the message says why. */
export class UpstreamRefused extends Error {
  readonly code = 'PORTCACHE_UPSTREAM_REFUSED';

  constructor(readonly reason: string) {
    super(`refused: ${reason}`);
  }
}

/**
 * The undici dispatcher for every upstream request. Direct connections are judged where the
 * socket is opened, on the address actually connected to: an IP-literal host in the connector,
 * a host name in its DNS lookup. So a name that resolves to a private address, or resolves
 * again to one after a check (DNS rebinding), cannot be reached. No redirect interceptor:
 * UpstreamClient.get follows redirects itself, one checked hop at a time.
 *
 * With a proxy (config.proxy), requests ProxyRoutes sends to it go through a ProxyAgent, and
 * the socket is opened to the proxy: UpstreamClient judges those targets before the request.
 */
export function createUpstreamDispatcher(
  config: PortcacheConfig,
  rules: AddressRules,
  routes: ProxyRoutes,
): Dispatcher {
  const direct = createDirectDispatcher(config, rules);
  if (!routes.enabled) return direct;
  const timeouts = {
    connectTimeoutMs: config.connectTimeoutMs,
    stallTimeoutMs: config.stallTimeoutMs,
    keepAliveTimeoutMs: KEEP_ALIVE_MS,
  };
  const proxied = new Map<string, Dispatcher>();
  for (const proxy of [routes.http, routes.https]) {
    if (proxy && !proxied.has(proxy.href)) proxied.set(proxy.href, createProxyAgent(proxy, timeouts));
  }
  const shown = (proxy: URL | undefined) => (proxy ? redactProxy(proxy.href) : 'none');
  new Logger('UpstreamClient').log(
    `upstream proxies: http ${shown(routes.http)}, https ${shown(routes.https)}, no proxy for ${config.proxy.noProxy?.trim() || '(NO_PROXY unset)'}`,
  );
  return new ProxyRouter(routes, direct, proxied);
}

/**
 * Opens connections to upstream hosts under the address rules: an IP-literal host is judged
 * here, a host name in its DNS lookup. `extra` goes to net.connect (the plain path's `onread`).
 */
function directConnector(
  config: PortcacheConfig,
  rules: AddressRules,
  extra: Record<string, unknown> = {},
): buildConnector.connector {
  const connector = buildConnector({
    timeout: config.connectTimeoutMs,
    lookup: guardedLookup(rules),
    ...extra,
  });
  return (options, callback) => {
    const refusal =
      isIP(options.hostname) && !rules.isMirrorHost(options.hostname)
        ? rules.addressRefusal(options.hostname)
        : undefined;
    if (refusal) return callback(new UpstreamRefused(refusal), null);
    return connector(options, callback);
  };
}

/** A PlainConnect under the address rules (see plainGet). */
export function plainConnector(config: PortcacheConfig, rules: AddressRules): PlainConnect {
  return (url, onread) =>
    new Promise<Socket>((resolve, reject) => {
      const connect = directConnector(config, rules, { onread });
      connect(
        {
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          host: url.host,
          protocol: url.protocol,
          port: url.port,
        },
        (error, socket) => (error ? reject(error) : resolve(socket as Socket)),
      );
    });
}

/** The Agent for connections portcache opens itself, to the upstream host. */
function createDirectDispatcher(config: PortcacheConfig, rules: AddressRules): Dispatcher {
  return new Agent({
    connect: directConnector(config, rules),
    headersTimeout: config.stallTimeoutMs,
    bodyTimeout: config.stallTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
  });
}

/** dns.lookup that drops the addresses `rules` refuse, and fails when none is left. */
function guardedLookup(rules: AddressRules): LookupFunction {
  return (hostname, options, callback) => {
    if (rules.isMirrorHost(hostname)) return dnsLookup(hostname, options, callback);
    dnsLookup(hostname, { ...options, all: true }, (error, answer: LookupAddress[]) => {
      if (error) return callback(error, '', undefined);
      const allowed = answer.filter(({ address }) => rules.allowsAnswer(hostname, address));
      if (allowed.length === 0) {
        const reason =
          rules.answerRefusal(
            hostname,
            answer.map(({ address }) => address),
          ) ?? `${hostname} has no address`;
        return callback(new UpstreamRefused(reason), '', undefined);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}
