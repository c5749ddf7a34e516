import { describe, expect, it } from 'vitest';
import { ProxyRoutes, parseProxyUrl, redactProxy } from './upstream-proxy.js';

const HTTP = 'http://proxy.corp:3128';
const HTTPS = 'http://secure-proxy.corp:3129';

function routes(noProxy?: string, proxies: { http?: string; https?: string } = { http: HTTP, https: HTTPS }) {
  return new ProxyRoutes({ http: proxies.http, https: proxies.https, noProxy });
}

/** The proxy's host for `url`, or 'direct'. */
const via = (r: ProxyRoutes, url: string) => r.proxyFor(new URL(url))?.host ?? 'direct';

describe('ProxyRoutes', () => {
  it('sends each scheme through its own proxy only', () => {
    expect(via(routes(), 'http://example.org/x')).toBe('proxy.corp:3128');
    expect(via(routes(), 'https://example.org/x')).toBe('secure-proxy.corp:3129');
    expect(via(routes(undefined, { http: HTTP }), 'https://example.org/x')).toBe('direct');
    expect(via(routes(undefined, { https: HTTPS }), 'http://example.org/x')).toBe('direct');
    expect(routes(undefined, {}).enabled).toBe(false);
    expect(routes(undefined, { http: HTTP }).enabled).toBe(true);
  });

  it('lets NO_PROXY names cover their subdomains, with or without a leading dot or *.', () => {
    const r = routes('example.org, .corp.example *.lan.example');
    expect(via(r, 'http://example.org/x')).toBe('direct');
    expect(via(r, 'http://www.example.org/x')).toBe('direct');
    expect(via(r, 'https://WWW.Example.ORG./x')).toBe('direct');
    expect(via(r, 'http://corp.example/x')).toBe('direct');
    expect(via(r, 'http://a.b.corp.example/x')).toBe('direct');
    expect(via(r, 'http://x.lan.example/x')).toBe('direct');
    expect(via(r, 'http://notexample.org/x')).toBe('proxy.corp:3128');
    expect(via(r, 'http://example.org.evil.test/x')).toBe('proxy.corp:3128');
  });

  it('matches a port when the entry names one, default ports included', () => {
    const r = routes('mirror.example:8080,other.example:443');
    expect(via(r, 'http://mirror.example:8080/x')).toBe('direct');
    expect(via(r, 'http://mirror.example/x')).toBe('proxy.corp:3128');
    expect(via(r, 'https://other.example/x')).toBe('direct');
    expect(via(r, 'http://other.example/x')).toBe('proxy.corp:3128');
  });

  it('matches IP literals by address and network, IPv6 and mapped forms included', () => {
    const r = routes('10.0.0.0/8 192.168.1.5 ::1 [fd00::5]:8080 fe80::/10');
    expect(via(r, 'http://10.20.30.40/x')).toBe('direct');
    expect(via(r, 'http://192.168.1.5:8080/x')).toBe('direct');
    expect(via(r, 'http://192.168.1.6/x')).toBe('proxy.corp:3128');
    expect(via(r, 'http://[::1]/x')).toBe('direct');
    expect(via(r, 'http://[::ffff:10.1.1.1]/x')).toBe('direct');
    expect(via(r, 'http://[fd00::5]:8080/x')).toBe('direct');
    expect(via(r, 'http://[fd00::5]/x')).toBe('proxy.corp:3128');
    expect(via(r, 'http://[fe80::1]/x')).toBe('direct');
    // A name is not resolved to match a network.
    expect(via(r, 'http://ten.example/x')).toBe('proxy.corp:3128');
  });

  it('bypasses everything for *, nothing for an empty list; loopback is not exempt by itself', () => {
    expect(via(routes('*'), 'https://example.org/x')).toBe('direct');
    expect(via(routes(''), 'https://example.org/x')).toBe('secure-proxy.corp:3129');
    expect(via(routes(' , '), 'http://127.0.0.1:8080/x')).toBe('proxy.corp:3128');
    expect(via(routes(), 'http://localhost/x')).toBe('proxy.corp:3128');
  });
});

describe('parseProxyUrl', () => {
  it('reads a proxy without a scheme as http://, as curl does', () => {
    expect(parseProxyUrl('proxy.corp:3128', 'HTTP_PROXY').href).toBe('http://proxy.corp:3128/');
    expect(parseProxyUrl('https://proxy.corp', 'HTTP_PROXY').protocol).toBe('https:');
    expect(parseProxyUrl('http://user:pass@proxy.corp:3128', 'HTTP_PROXY').username).toBe('user');
  });

  it('refuses other schemes and non-URLs, naming the variable and hiding credentials', () => {
    expect(() => parseProxyUrl('socks5://proxy.corp:1080', 'HTTPS_PROXY')).toThrow(
      'HTTPS_PROXY: socks5:// proxies are not supported, only http:// and https://',
    );
    expect(() => parseProxyUrl('http://user:secret@[bad', 'HTTP_PROXY')).toThrow(
      'HTTP_PROXY: not a proxy URL: http://***@[bad',
    );
  });

  it('redacts credentials for logs', () => {
    expect(redactProxy('http://user:secret@proxy:3128')).toBe('http://***@proxy:3128');
    expect(redactProxy('user:secret@proxy:3128')).toBe('***@proxy:3128');
    expect(redactProxy('http://proxy:3128')).toBe('http://proxy:3128');
  });
});
