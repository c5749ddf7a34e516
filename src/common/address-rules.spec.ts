import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  AddressRules,
  classifyAddress,
  type IpAddress,
  inNet,
  MAX_REDIRECTS,
  parseIp,
  parseNet,
  redirectTarget,
} from './address-rules.js';

const ip = (text: string) => parseIp(text) as IpAddress;
const kindOf = (text: string) => classifyAddress(ip(text));

describe('parseIp', () => {
  it('reads dotted-quad IPv4', () => {
    expect(parseIp('0.0.0.0')).toEqual({ family: 4, value: 0n });
    expect(parseIp('127.0.0.1')).toEqual({ family: 4, value: 0x7f000001n });
    expect(parseIp('255.255.255.255')).toEqual({ family: 4, value: 0xffffffffn });
  });

  it('refuses what is not a dotted quad, or is ambiguous', () => {
    for (const text of [
      '256.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      '010.0.0.1',
      '1.2.3.-4',
      '0x7f.0.0.1',
      '',
      'host',
    ]) {
      expect(parseIp(text), text).toBeUndefined();
    }
  });

  it('reads every IPv6 form: full, zero-compressed, embedded IPv4, brackets, zone', () => {
    const loopback = { family: 6, value: 1n };
    expect(parseIp('::1')).toEqual(loopback);
    expect(parseIp('0:0:0:0:0:0:0:1')).toEqual(loopback);
    expect(parseIp('0000:0000:0000:0000:0000:0000:0000:0001')).toEqual(loopback);
    expect(parseIp('0::0:1')).toEqual(loopback);
    expect(parseIp('[::1]')).toEqual(loopback);
    expect(parseIp('::')).toEqual({ family: 6, value: 0n });
    expect(parseIp('1::')).toEqual({ family: 6, value: 1n << 112n });
    expect(parseIp('1:2:3:4:5:6:7::')).toEqual(parseIp('1:2:3:4:5:6:7:0'));
    expect(parseIp('::2:3:4:5:6:7:8')).toEqual(parseIp('0:2:3:4:5:6:7:8'));
    expect(parseIp('FE80::AB')).toEqual(parseIp('fe80::ab'));
    expect(parseIp('fe80::1%eth0')).toEqual(parseIp('fe80::1'));
    expect(parseIp('::ffff:127.0.0.1')).toEqual({ family: 6, value: 0xffff7f000001n });
    expect(parseIp('::ffff:7f00:1')).toEqual(parseIp('::ffff:127.0.0.1'));
    expect(parseIp('0:0:0:0:0:ffff:10.1.2.3')).toEqual(parseIp('::ffff:a01:203'));
  });

  it('refuses malformed IPv6', () => {
    for (const text of [
      '1::2::3',
      ':::',
      ':1::',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8::',
      '12345::',
      'g::1',
      '1.2.3.4::',
      '1.2.3.4:1:1:1:1:1:1.2.3.4',
      '::ffff:1.2.3.256',
      '::ffff:1.2.3',
    ]) {
      expect(parseIp(text), text).toBeUndefined();
    }
  });

  it('reads everything node:net calls an IP address the same way', () => {
    for (const text of [
      '::',
      '::1',
      '1:2:3:4:5:6:7::',
      '::ffff:1.2.3.4',
      'fe80::1%eth0',
      '64:ff9b::1.2.3.4',
      '9.9.9.9',
    ]) {
      expect(isIP(text), text).not.toBe(0);
      expect(parseIp(text), text).toBeDefined();
    }
  });
});

describe('parseNet and inNet', () => {
  it('reads CIDRs and single addresses, clearing host bits', () => {
    expect(parseNet('10.0.0.0/8')).toEqual({ family: 4, base: 0x0a000000n, bits: 8 });
    expect(parseNet('10.1.2.3/8')).toEqual({ family: 4, base: 0x0a000000n, bits: 8 });
    expect(parseNet('192.168.1.7')).toEqual({ family: 4, base: 0xc0a80107n, bits: 32 });
    expect(parseNet('0.0.0.0/0')).toEqual({ family: 4, base: 0n, bits: 0 });
    expect(parseNet('fd00::/8')).toEqual({ family: 6, base: 0xfdn << 120n, bits: 8 });
    expect(parseNet('::1')).toEqual({ family: 6, base: 1n, bits: 128 });
    // An IPv4-mapped network is that IPv4 network.
    expect(parseNet('::ffff:10.0.0.0/104')).toEqual(parseNet('10.0.0.0/8'));
  });

  it('refuses bad networks', () => {
    for (const text of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x', 'host/8', '/8']) {
      expect(parseNet(text), text).toBeUndefined();
    }
  });

  it('matches addresses, IPv4-mapped ones as their IPv4 address', () => {
    const net = parseNet('10.0.0.0/8');
    if (!net) throw new Error('unparsed');
    expect(inNet(ip('10.255.1.2'), net)).toBe(true);
    expect(inNet(ip('11.0.0.0'), net)).toBe(false);
    expect(inNet(ip('::ffff:10.1.2.3'), net)).toBe(true);
    expect(inNet(ip('::a01:203'), net)).toBe(false);
    const v6 = parseNet('fd12:3456::/32');
    if (!v6) throw new Error('unparsed');
    expect(inNet(ip('fd12:3456:ffff::1'), v6)).toBe(true);
    expect(inNet(ip('fd12:3457::1'), v6)).toBe(false);
    expect(inNet(ip('10.1.2.3'), v6)).toBe(false);
  });
});

describe('classifyAddress', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.0.0.2', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['192.168.0.1', 'private'],
    ['192.168.255.255', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.1', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
  ])('IPv4 %s is %s', (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '9.255.255.255',
    '11.0.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '223.255.255.255',
  ])('IPv4 %s is public', (address) => {
    expect(kindOf(address)).toBeUndefined();
  });

  it.each([
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['1::', 'reserved'],
    ['4000::1', 'reserved'],
    ['fe00::1', 'reserved'],
  ])('IPv6 %s is %s', (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });

  it.each(['2a00:1450:4001:81b::200e', '2606:4700:4700::1111', '2001:4860:4860::8888', '2c0f:fb50::1'])(
    'IPv6 %s is public',
    (address) => {
      expect(kindOf(address)).toBeUndefined();
    },
  );

  it.each([
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:100.64.0.1', 'carrier-grade NAT'],
    ['::ffff:172.16.0.1', 'private'],
    ['::ffff:192.168.1.1', 'private'],
    // NAT64 and 6to4 reach the IPv4 address they embed.
    ['64:ff9b::169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
  ])('IPv6 form %s of an IPv4 address is %s', (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });

  it.each(['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'IPv6 form %s of a public IPv4 address is public',
    (address) => {
      expect(kindOf(address)).toBeUndefined();
    },
  );
});

describe('redirectTarget', () => {
  const from = new URL('http://mirror.example/distfiles/a/b.tar.gz');

  it('resolves absolute and relative Locations', () => {
    expect(String(redirectTarget(from, 'https://cdn.example/x.tar.gz', 0))).toBe(
      'https://cdn.example/x.tar.gz',
    );
    expect(String(redirectTarget(from, '/other/b.tar.gz', 0))).toBe('http://mirror.example/other/b.tar.gz');
    expect(String(redirectTarget(from, '../c/b.tar.gz', 0))).toBe(
      'http://mirror.example/distfiles/c/b.tar.gz',
    );
    expect(String(redirectTarget(from, '//cdn.example/y', 0))).toBe('http://cdn.example/y');
    expect(String(redirectTarget(from, 'HTTPS://CDN.example:443/z', 0))).toBe('https://cdn.example/z');
  });

  it('follows only http and https', () => {
    expect(redirectTarget(from, 'ftp://ftp.example/b.tar.gz', 0)).toBe(
      'redirect to a ftp: URL (only http and https are followed)',
    );
    expect(redirectTarget(from, 'file:///etc/passwd', 0)).toMatch(/^redirect to a file: URL/);
    expect(redirectTarget(from, 'gopher://x/', 0)).toMatch(/^redirect to a gopher: URL/);
    expect(redirectTarget(from, 'data:text/plain,hi', 0)).toMatch(/^redirect to a data: URL/);
    expect(redirectTarget(from, 'http://[::1', 0)).toMatch(/^redirect to an invalid URL/);
  });

  it(`follows at most ${MAX_REDIRECTS} redirects`, () => {
    expect(redirectTarget(from, '/next', MAX_REDIRECTS - 1)).toBeInstanceOf(URL);
    expect(redirectTarget(from, '/next', MAX_REDIRECTS)).toBe(`more than ${MAX_REDIRECTS} redirects`);
  });
});

describe('AddressRules', () => {
  const rules = new AddressRules(
    ['https://distfiles.gentoo.org', 'http://10.0.0.5:8080', 'http://[fd00::5]', 'http://Mirror.LAN./gentoo'],
    ['192.168.7.0/24', '127.0.0.1', 'fd99::/16'],
  );

  it('refuses non-public addresses with the reason and the variable to change', () => {
    expect(rules.addressRefusal('10.1.2.3')).toBe('10.1.2.3 is a private address (PORTCACHE_TRUSTED_NETS)');
    expect(rules.addressRefusal('169.254.169.254')).toBe(
      '169.254.169.254 is a link-local address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.addressRefusal('0.0.0.0')).toBe(
      '0.0.0.0 is an unspecified address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.addressRefusal('127.0.0.2')).toMatch(/is a loopback address/);
    expect(rules.addressRefusal('::1')).toMatch(/is a loopback address/);
    expect(rules.addressRefusal('::ffff:169.254.169.254')).toMatch(/is a link-local address/);
    expect(rules.addressRefusal('not-an-address')).toMatch(/is a reserved address/);
  });

  it('allows public addresses and trusted ones, IPv4-mapped forms included', () => {
    expect(rules.addressRefusal('8.8.8.8')).toBeUndefined();
    expect(rules.addressRefusal('2a00:1450::1')).toBeUndefined();
    expect(rules.addressRefusal('192.168.7.200')).toBeUndefined();
    expect(rules.addressRefusal('::ffff:192.168.7.200')).toBeUndefined();
    expect(rules.addressRefusal('192.168.8.1')).toMatch(/private/);
    expect(rules.addressRefusal('127.0.0.1')).toBeUndefined();
    expect(rules.addressRefusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(rules.addressRefusal('fd99:1::1')).toBeUndefined();
    expect(rules.addressRefusal('fd98::1')).toMatch(/private/);
  });

  it('lets configured mirror hosts be any address, whatever the port or scheme', () => {
    expect(rules.isMirrorHost('10.0.0.5')).toBe(true);
    expect(rules.isMirrorHost('fd00::5')).toBe(true);
    expect(rules.isMirrorHost('[fd00::5]')).toBe(true);
    expect(rules.isMirrorHost('mirror.lan')).toBe(true);
    expect(rules.isMirrorHost('MIRROR.lan.')).toBe(true);
    expect(rules.isMirrorHost('10.0.0.6')).toBe(false);
    expect(rules.urlRefusal(new URL('http://10.0.0.5:8080/distfiles/x'))).toBeUndefined();
    expect(rules.urlRefusal(new URL('https://10.0.0.5/distfiles/x'))).toBeUndefined();
    expect(rules.urlRefusal(new URL('http://[fd00::5]/x'))).toBeUndefined();
    expect(rules.answerRefusal('mirror.lan', ['192.168.1.1'])).toBeUndefined();
    expect(rules.allowsAnswer('mirror.lan', '192.168.1.1')).toBe(true);
  });

  it('judges IP-literal URLs before connecting, host names by their DNS answer', () => {
    expect(rules.urlRefusal(new URL('http://169.254.169.254/latest/meta-data/'))).toBe(
      '169.254.169.254 is a link-local address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.urlRefusal(new URL('http://[::ffff:127.0.0.2]/x'))).toBe(
      '::ffff:7f00:2 is a loopback address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.urlRefusal(new URL('http://[fe80::1]/x'))).toMatch(/link-local/);
    // The URL parser turns other IPv4 spellings into dotted quads first.
    expect(rules.urlRefusal(new URL('http://2852039166/x'))).toMatch(/^169\.254\.169\.254 is a link-local/);
    expect(rules.urlRefusal(new URL('http://0x7f.2/x'))).toMatch(/^127\.0\.0\.2 is a loopback/);
    expect(rules.urlRefusal(new URL('http://0/x'))).toMatch(/^0\.0\.0\.0 is an unspecified/);
    expect(rules.urlRefusal(new URL('http://8.8.8.8/x'))).toBeUndefined();
    expect(rules.urlRefusal(new URL('http://metadata.internal/x'))).toBeUndefined();
  });

  it('refuses other schemes', () => {
    expect(rules.urlRefusal(new URL('ftp://ftp.example/x'))).toBe(
      'a ftp: URL (only http and https are fetched)',
    );
    expect(rules.urlRefusal(new URL('file:///etc/passwd'))).toMatch(/^a file: URL/);
  });

  it('refuses a DNS answer only when no address in it may be used', () => {
    expect(rules.answerRefusal('metadata.internal', ['169.254.169.254'])).toBe(
      'metadata.internal resolves only to 169.254.169.254, a link-local address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.answerRefusal('lan.example', ['10.0.0.1', 'fd00::1'])).toBe(
      'lan.example resolves only to 10.0.0.1, a private address; fd00::1, a private address (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.answerRefusal('mixed.example', ['10.0.0.1', '8.8.8.8'])).toBeUndefined();
    expect(rules.allowsAnswer('mixed.example', '10.0.0.1')).toBe(false);
    expect(rules.allowsAnswer('mixed.example', '8.8.8.8')).toBe(true);
    expect(rules.allowsAnswer('trusted.example', '192.168.7.1')).toBe(true);
  });

  it('refuses a name sent through a proxy when any address it resolves to is refused: the proxy picks one', () => {
    expect(rules.proxiedAnswerRefusal('mixed.example', ['8.8.8.8', '10.0.0.1'])).toBe(
      'mixed.example resolves to 10.0.0.1, a private address, which the proxy could connect to (PORTCACHE_TRUSTED_NETS)',
    );
    expect(rules.proxiedAnswerRefusal('public.example', ['8.8.8.8', '2a00:1450::1'])).toBeUndefined();
    expect(rules.proxiedAnswerRefusal('trusted.example', ['192.168.7.1', '8.8.8.8'])).toBeUndefined();
    expect(rules.proxiedAnswerRefusal('Mirror.LAN', ['192.168.1.1'])).toBeUndefined();
  });

  it('takes no trusted networks and refuses every non-public address then', () => {
    const strict = new AddressRules(['https://distfiles.gentoo.org'], []);
    expect(strict.addressRefusal('127.0.0.1')).toMatch(/loopback/);
    expect(strict.addressRefusal('192.168.7.200')).toMatch(/private/);
    expect(strict.addressRefusal('8.8.8.8')).toBeUndefined();
  });

  it('throws on a trusted network that is not one (config validation lets none through)', () => {
    expect(() => new AddressRules([], ['10.0.0.0/33'])).toThrow(/10\.0\.0\.0\/33/);
  });
});
