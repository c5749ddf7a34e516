import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { type AddressInfo, connect, isIP, type Socket } from 'node:net';

/** One request a ForwardProxy passed on (or refused). */
export interface ProxiedRequest {
  method: string;
  /** The absolute URL of a plain request, `host:port` of a CONNECT. */
  target: string;
  headers: IncomingHttpHeaders;
}

const HOP_BY_HOP = ['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive'];

/**
 * An HTTP forward proxy for tests: absolute-form requests and CONNECT tunnels, each logged.
 * It resolves host names from its own table only (`names`, plus localhost), so a name like
 * `mirror.test` is reachable through it and nowhere else; it connects to loopback addresses
 * only and answers 502 for anything else.
 */
export class ForwardProxy {
  readonly log: ProxiedRequest[] = [];
  url = '';
  private readonly sockets = new Set<Socket>();
  private server!: Server;

  private constructor(private readonly names: Record<string, string>) {}

  static async start(host: string, names: Record<string, string> = {}): Promise<ForwardProxy> {
    const proxy = new ForwardProxy({ localhost: '127.0.0.1', ...names });
    proxy.server = createServer((req, res) => {
      const target = req.url ?? '';
      proxy.log.push({ method: req.method ?? '', target, headers: req.headers });
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return void res.writeHead(400).end('absolute-form requests only\n');
      }
      const address = proxy.resolve(url.hostname);
      if (!address || url.protocol !== 'http:') return void res.writeHead(502).end('not reachable\n');
      const headers = { ...req.headers };
      for (const name of HOP_BY_HOP) delete headers[name];
      const upstream = request(
        { host: address, port: url.port || 80, method: req.method, path: url.pathname + url.search, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    proxy.server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      proxy.log.push({ method: 'CONNECT', target, headers: req.headers });
      const match = /^(.+):(\d+)$/.exec(target);
      const address = match && proxy.resolve(match[1]);
      if (!match || !address) return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      const upstream = connect(Number(match[2]), address, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      proxy.track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    proxy.server.on('connection', (socket) => proxy.track(socket));
    await new Promise<void>((resolve) => proxy.server.listen(0, host, resolve));
    proxy.url = `http://${host}:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** Logged targets that contain `text`. */
  targets(text = ''): string[] {
    return this.log.map((entry) => entry.target).filter((target) => target.includes(text));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** The loopback address for `hostname`, from the table or an IP literal; undefined otherwise. */
  private resolve(hostname: string): string | undefined {
    const bare = hostname.replace(/^\[|\]$/g, '');
    const address = this.names[bare.toLowerCase()] ?? (isIP(bare) ? bare : undefined);
    return address && (address.startsWith('127.') || address === '::1') ? address : undefined;
  }
}
