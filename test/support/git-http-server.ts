import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Serves the bare repositories under `root` over git's smart HTTP protocol on 127.0.0.1:
 * `git http-backend` behind a small CGI shim (shallow fetches need the smart protocol). Logs
 * each request's method and path.
 */
export class GitHttpServer {
  readonly requests: Array<{ method: string; path: string }> = [];
  url = '';
  private readonly sockets = new Set<Socket>();
  private server!: Server;

  private constructor(private readonly root: string) {}

  static async start(root: string): Promise<GitHttpServer> {
    const git = new GitHttpServer(root);
    git.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://git');
      git.requests.push({ method: req.method ?? '', path: url.pathname + url.search });
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : (value ?? '');
      };
      const cgi = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env.PATH ?? '',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_PROJECT_ROOT: git.root,
          GIT_HTTP_EXPORT_ALL: '1',
          REQUEST_METHOD: req.method ?? 'GET',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: header('content-type'),
          ...(req.headers['content-length'] ? { CONTENT_LENGTH: header('content-length') } : {}),
          HTTP_CONTENT_ENCODING: header('content-encoding'),
          GIT_PROTOCOL: header('git-protocol'),
          REMOTE_ADDR: req.socket.remoteAddress ?? '',
        },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      req.pipe(cgi.stdin);
      cgi.stdin.on('error', () => undefined);
      // CGI output: header lines, a blank line, the body.
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        cgi.stdout.off('data', onData);
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (name === 'status') status = Number.parseInt(value, 10);
          else headers[name] = value;
        }
        res.writeHead(status, headers);
        res.write(head.subarray(end + 4));
        cgi.stdout.pipe(res);
      };
      cgi.stdout.on('data', onData);
      cgi.on('error', () => res.destroy());
      cgi.on('close', () => {
        if (!res.headersSent) res.writeHead(502).end();
      });
    });
    git.server.on('connection', (socket) => {
      git.sockets.add(socket);
      socket.on('close', () => git.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => git.server.listen(0, '127.0.0.1', resolve));
    git.url = `http://127.0.0.1:${(git.server.address() as AddressInfo).port}`;
    return git;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
