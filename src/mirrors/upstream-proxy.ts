import { type IpAddress, type IpNet, inNet, parseIp, parseNet } from '../common/address-rules.js';
import { ConfigError } from '../config/portcache-env.js';

/** As config.proxy: the proxy for http: targets, for https: targets, and the NO_PROXY list. */
export interface ProxySettings {
  http: string | undefined;
  https: string | undefined;
  noProxy: string | undefined;
}

/** One NO_PROXY entry: a domain (with its subdomains) or an IP network, on any port (0) or one. */
type Bypass = { name: string; port: number } | { net: IpNet; port: number };

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Which proxy an upstream request goes through. Each proxy serves its own scheme only, as in
 * curl and so in git: an https: URL uses the HTTPS proxy or none, never the HTTP one. NO_PROXY
 * is read as curl and undici read it: comma or space separated host names (each covering its
 * subdomains, a leading `.` or `*.` ignored), `host:port`, IP addresses, CIDR networks, `*`.
 * Loopback is not exempt by itself: list it when it must be.
 */
export class ProxyRoutes {
  readonly http: URL | undefined;
  readonly https: URL | undefined;
  private readonly bypassAll: boolean;
  private readonly bypass: Bypass[];

  constructor(settings: ProxySettings) {
    this.http = settings.http
      ? parseProxyUrl(settings.http, 'PORTCACHE_HTTP_PROXY or HTTP_PROXY')
      : undefined;
    this.https = settings.https
      ? parseProxyUrl(settings.https, 'PORTCACHE_HTTPS_PROXY or HTTPS_PROXY')
      : undefined;
    const entries = (settings.noProxy ?? '').split(/[,\s]+/).filter(Boolean);
    this.bypassAll = entries.includes('*');
    this.bypass = entries.flatMap((entry) => parseBypass(entry) ?? []);
  }

  /** Whether any request can go through a proxy. */
  get enabled(): boolean {
    return this.http !== undefined || this.https !== undefined;
  }

  /** The proxy for a request to `url`; undefined: connect directly. */
  proxyFor(url: URL): URL | undefined {
    const proxy = url.protocol === 'https:' ? this.https : url.protocol === 'http:' ? this.http : undefined;
    if (!proxy || this.bypassAll || (this.bypass.length > 0 && this.bypasses(url))) return undefined;
    return proxy;
  }

  private bypasses(url: URL): boolean {
    const host = bareHost(url.hostname);
    const port = Number(url.port) || DEFAULT_PORT[url.protocol] || 0;
    let ip: IpAddress | undefined | null = null;
    for (const entry of this.bypass) {
      if (entry.port && entry.port !== port) continue;
      if ('name' in entry) {
        if (host === entry.name || host.endsWith(`.${entry.name}`)) return true;
      } else {
        ip ??= parseIp(host);
        if (ip && inNet(ip, entry.net)) return true;
      }
    }
    return false;
  }
}

/**
 * A proxy URL as HTTP_PROXY gives it. Without a scheme it is http://, as curl reads it; only
 * http:// and https:// proxies are spoken. Environment values reach here unvalidated: a wrong
 * one stops startup like a wrong PORTCACHE_* value.
 */
export function parseProxyUrl(text: string, variable: string): URL {
  const withScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`${variable}: not a proxy URL: ${redactProxy(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `${variable}: ${url.protocol}// proxies are not supported, only http:// and https://`,
    );
  }
  return url;
}

/** A proxy URL for logs: credentials hidden. */
export function redactProxy(text: string): string {
  return text.replace(/^([a-z][a-z\d+.-]*:\/\/)?[^/@]*@/i, '$1***@');
}

function parseBypass(entry: string): Bypass | undefined {
  const text = entry.toLowerCase();
  if (text.includes('/')) {
    const net = parseNet(text);
    return net ? { net, port: 0 } : undefined;
  }
  // [::1]:8080, [::1], ::1 (more than one colon and no brackets: an IPv6 address, no port).
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const withPort = bracketed ? undefined : /^([^:]+):(\d+)$/.exec(text);
  const host = bracketed?.[1] ?? withPort?.[1] ?? text;
  const port = Number(bracketed?.[2] ?? withPort?.[2] ?? 0);
  const net = parseNet(host);
  if (net) return { net, port };
  const name = bareHost(host.replace(/^\*?\./, ''));
  return name ? { name, port } : undefined;
}

/** No IPv6 brackets, no trailing dot, lower case. */
function bareHost(hostname: string): string {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return bare.replace(/\.$/, '').toLowerCase();
}
