/**
 * Which upstream addresses portcache may connect to. A SRC_URI or a redirect must not turn the
 * cache into a way to reach the machine itself, its LAN or a cloud metadata service, so only
 * public addresses are allowed, plus the operator's choices: the hosts of configured mirrors
 * and PORTCACHE_TRUSTED_NETS. Pure: the DNS lookup and the connection live in UpstreamClient.
 */

export const MAX_REDIRECTS = 5;

/** An IP address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A network: the address with all bits past `bits` cleared. */
export interface IpNet {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

/** Why an address is not public. */
export type AddressKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade NAT'
  | 'multicast'
  | 'documentation'
  | 'reserved';

const WIDTH = { 4: 32, 6: 128 } as const;

/** Dotted-quad IPv4 or any IPv6 form (`::`, embedded IPv4, `[brackets]`, `%zone`); undefined otherwise. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return parseIpv4(bare) ?? parseIpv6(bare);
}

function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // No leading zeros: inet_aton would read 010 as octal 8.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return { family: 4, value };
}

function parseIpv6(text: string): IpAddress | undefined {
  // A zone (fe80::1%eth0) only says which interface: the address decides.
  const address = text.replace(/%[\w.-]+$/, '');
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  // Only the very last group may be an IPv4 address (::ffff:1.2.3.4, not 1.2.3.4::).
  const head = words(groups(halves[0]), halves.length === 1);
  const tail = halves.length === 2 ? words(groups(halves[1]), true) : [];
  if (!head || !tail) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  return { family: 6, value: all.reduce((value, word) => (value << 16n) | BigInt(word), 0n) };
}

/** 16-bit words of IPv6 groups; `endsInIpv4`: the last group may be a dotted quad (two words). */
function words(groups: string[], endsInIpv4: boolean): number[] | undefined {
  const result: number[] = [];
  for (const [index, group] of groups.entries()) {
    if (endsInIpv4 && index === groups.length - 1 && group.includes('.')) {
      const v4 = parseIpv4(group);
      if (!v4) return undefined;
      result.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
    } else if (/^[0-9a-f]{1,4}$/i.test(group)) {
      result.push(Number.parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  return result;
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address; host bits are cleared. */
export function parseNet(text: string): IpNet | undefined {
  const [addressText, bitsText, extra] = text.split('/');
  const address = parseIp(addressText);
  if (!address || extra !== undefined) return undefined;
  const width = WIDTH[address.family];
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (bits > width) return undefined;
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are compared unmapped.
  const v4 = address.family === 6 && bits >= 96 ? mappedIpv4(address) : undefined;
  if (v4) return { family: 4, base: mask(v4.value, 32, bits - 96), bits: bits - 96 };
  return { family: address.family, base: mask(address.value, width, bits), bits };
}

function mask(value: bigint, width: number, bits: number): bigint {
  const shift = BigInt(width - bits);
  return (value >> shift) << shift;
}

/** The IPv4 address in an IPv4-mapped IPv6 one (::ffff:a.b.c.d), which connects to that IPv4 host. */
function mappedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.family !== 6 || address.value >> 32n !== 0xffffn) return undefined;
  return { family: 4, value: address.value & 0xffff_ffffn };
}

export function inNet(address: IpAddress, net: IpNet): boolean {
  const plain = mappedIpv4(address) ?? address;
  return plain.family === net.family && mask(plain.value, WIDTH[net.family], net.bits) === net.base;
}

const V4_RANGES = ranges([
  ['0.0.0.0/8', 'unspecified'], // "this network": Linux connects 0.0.0.0 to the local host
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'], // cloud metadata services live here
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // with 255.255.255.255
]);

const V6_RANGES = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'reserved'],
  ['2001::/23', 'reserved'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['fc00::/7', 'private'],
  ['fec0::/10', 'private'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
]);

const GLOBAL_UNICAST = parseNet('2000::/3') as IpNet;
const NAT64 = parseNet('64:ff9b::/96') as IpNet;
const SIX_TO_FOUR = parseNet('2002::/16') as IpNet;

function ranges(list: [string, AddressKind][]): [IpNet, AddressKind][] {
  return list.map(([net, kind]) => [parseNet(net) as IpNet, kind]);
}

/** What kind of non-public address this is; undefined when it is a public one. */
export function classifyAddress(address: IpAddress): AddressKind | undefined {
  const v4 = embeddedIpv4(address);
  if (v4) return classifyAddress(v4);
  const table = address.family === 4 ? V4_RANGES : V6_RANGES;
  // Most specific first: 2001:db8::/32 is documentation, the rest of 2001::/23 reserved.
  let found: [IpNet, AddressKind] | undefined;
  for (const entry of table) {
    if (inNet(address, entry[0]) && (!found || entry[0].bits > found[0].bits)) found = entry;
  }
  if (found) return found[1];
  // Outside 2000::/3 nothing is assigned for the public internet.
  if (address.family === 6 && !inNet(address, GLOBAL_UNICAST)) return 'reserved';
  return undefined;
}

/** IPv6 forms that reach an IPv4 host: mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16). */
function embeddedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.family !== 6) return undefined;
  const mapped = mappedIpv4(address);
  if (mapped) return mapped;
  if (inNet(address, NAT64)) return { family: 4, value: address.value & 0xffff_ffffn };
  if (inNet(address, SIX_TO_FOUR)) return { family: 4, value: (address.value >> 80n) & 0xffff_ffffn };
  return undefined;
}

export function isHttpUrl(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

/** Where a redirect goes (relative Locations resolved), or why it is not followed. */
export function redirectTarget(current: URL, location: string, followed: number): URL | string {
  if (followed >= MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
  let target: URL;
  try {
    target = new URL(location, current);
  } catch {
    return `redirect to an invalid URL (${location.slice(0, 200)})`;
  }
  if (!isHttpUrl(target)) return `redirect to a ${target.protocol} URL (only http and https are followed)`;
  return target;
}

const ARTICLE: Partial<Record<AddressKind, string>> = { unspecified: 'an' };

/** The policy for one configuration: which hosts and addresses may be connected to. */
export class AddressRules {
  private readonly mirrorHosts: Set<string>;
  private readonly trusted: IpNet[];

  /** `mirrors` as in config.mirrors (URLs), `trustedNets` as in config.trustedNets (validated). */
  constructor(mirrors: readonly string[], trustedNets: readonly string[]) {
    this.mirrorHosts = new Set(mirrors.map((mirror) => normalHost(new URL(mirror).hostname)));
    this.trusted = trustedNets.map((text) => {
      const net = parseNet(text);
      if (!net) throw new Error(`not an IP address or network: ${text}`);
      return net;
    });
  }

  /** A configured mirror's host may be any address, whatever its name resolves to: the operator chose it. */
  isMirrorHost(hostname: string): boolean {
    return this.mirrorHosts.has(normalHost(hostname));
  }

  /** Why connecting to `address` is refused; undefined when it is public or trusted. */
  addressRefusal(address: string): string | undefined {
    const kind = this.refusedKind(address);
    if (!kind) return undefined;
    return `${address} is ${describeKind(kind)} (PORTCACHE_TRUSTED_NETS)`;
  }

  /** Why `hostname`'s DNS answer is refused: every address in it is refused. Undefined when one may be used. */
  answerRefusal(hostname: string, addresses: readonly string[]): string | undefined {
    if (this.isMirrorHost(hostname)) return undefined;
    const refused = addresses.map((address) => [address, this.refusedKind(address)] as const);
    if (refused.length === 0 || refused.some(([, kind]) => !kind)) return undefined;
    const list = refused.map(([address, kind]) => `${address}, ${describeKind(kind as AddressKind)}`);
    return `${hostname} resolves only to ${list.join('; ')} (PORTCACHE_TRUSTED_NETS)`;
  }

  /**
   * Why a request to `hostname` through a proxy is refused, given what the name resolves to
   * here: the proxy picks an address itself, so one refused address is enough.
   */
  proxiedAnswerRefusal(hostname: string, addresses: readonly string[]): string | undefined {
    if (this.isMirrorHost(hostname)) return undefined;
    for (const address of addresses) {
      const kind = this.refusedKind(address);
      if (kind) {
        return `${hostname} resolves to ${address}, ${describeKind(kind)}, which the proxy could connect to (PORTCACHE_TRUSTED_NETS)`;
      }
    }
    return undefined;
  }

  /** Whether this one address of `hostname`'s DNS answer may be connected to. */
  allowsAnswer(hostname: string, address: string): boolean {
    return this.isMirrorHost(hostname) || !this.refusedKind(address);
  }

  /**
   * Why `url` may not be fetched, judged before connecting: not http(s), or an IP-literal host
   * that is not allowed. Host names are judged by their DNS answer, at connect time.
   */
  urlRefusal(url: URL): string | undefined {
    if (!isHttpUrl(url)) return `a ${url.protocol} URL (only http and https are fetched)`;
    if (this.isMirrorHost(url.hostname) || !isIpLiteral(url.hostname)) return undefined;
    return this.addressRefusal(normalHost(url.hostname));
  }

  private refusedKind(address: string): AddressKind | undefined {
    const ip = parseIp(address);
    // Something the parser does not know is never assumed to be public.
    if (!ip) return 'reserved';
    if (this.trusted.some((net) => inNet(ip, net))) return undefined;
    return classifyAddress(ip);
  }
}

function describeKind(kind: AddressKind): string {
  return `${ARTICLE[kind] ?? 'a'} ${kind} address`;
}

/** A URL's hostname as a connection sees it: no IPv6 brackets, no trailing dot. */
function normalHost(hostname: string): string {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return bare.replace(/\.$/, '').toLowerCase();
}

/** URL hostnames are canonical: an IPv4 literal is a dotted quad, an IPv6 one is in brackets. */
function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith('[') || /^[\d.]+$/.test(hostname);
}
