import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a test upstream misbehaves for one file. */
export interface Misbehaviour {
  /** Send this many body bytes, then reset the connection (Content-Length still says the whole file). */
  resetAfter?: number;
  /** Send this many body bytes, then send nothing more (keep the connection open). */
  stallAfter?: number;
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Answer Range requests with a 206 whose Content-Range starts elsewhere. */
  wrongContentRange?: boolean;
  /** Omit Content-Length (chunked). */
  chunked?: boolean;
  /** Bytes per second, sent in 16 KiB slices. */
  rate?: number;
  /** Answer with this status and no file. */
  status?: number;
  contentType?: string;
}

export interface UpstreamRequest {
  method: string;
  url: string;
  range?: string;
  acceptEncoding?: string;
}

interface StoredFile {
  body: Buffer;
  misbehaviour: Misbehaviour;
}

/**
 * A real HTTP mirror on 127.0.0.1 for tests: serves distfiles in the GLEP 75 hashed layout
 * (with layout.conf) or flat (no layout.conf), supports Range, logs every request, and can
 * misbehave per file.
 */
export class UpstreamServer {
  readonly requests: UpstreamRequest[] = [];
  private readonly files = new Map<string, StoredFile>();
  private readonly sockets = new Set<import('node:net').Socket>();
  private server!: Server;
  url = '';

  private constructor(private readonly layout: 'hashed' | 'flat') {}

  static async start(layout: 'hashed' | 'flat'): Promise<UpstreamServer> {
    const upstream = new UpstreamServer(layout);
    upstream.server = createServer((req, res) => upstream.handle(req, res));
    upstream.server.on('connection', (socket) => {
      upstream.sockets.add(socket);
      socket.on('close', () => upstream.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
    return upstream;
  }

  /** Publishes `name` (at its hashed or flat path). */
  add(name: string, body: Buffer, misbehaviour: Misbehaviour = {}): this {
    this.files.set(this.pathOf(name), { body, misbehaviour });
    return this;
  }

  misbehave(name: string, misbehaviour: Misbehaviour): void {
    const file = this.files.get(this.pathOf(name));
    if (file) file.misbehaviour = misbehaviour;
  }

  /** Requests for one distfile (not layout.conf). */
  requestsFor(name: string): UpstreamRequest[] {
    const path = `/distfiles/${this.pathOf(name).split('/').map(encodeURIComponent).join('/')}`;
    return this.requests.filter((r) => r.url === path);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pathOf(name: string): string {
    if (this.layout === 'flat') return name;
    return `${createHash('blake2b512').update(name).digest('hex').slice(0, 2)}/${name}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    this.requests.push({
      method: req.method ?? 'GET',
      url,
      range: req.headers.range,
      acceptEncoding: req.headers['accept-encoding'],
    });
    if (url === '/distfiles/layout.conf') {
      if (this.layout === 'flat') return void res.writeHead(404).end('no layout.conf here\n');
      return void res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('[structure]\n0=filename-hash BLAKE2B 8\n');
    }
    const path = decodeURIComponent(url.replace(/^\/distfiles\//, ''));
    const file = this.files.get(path);
    if (!file) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1>');
    const m = file.misbehaviour;
    if (m.status) return void res.writeHead(m.status).end();
    const size = file.body.length;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    const headers: Record<string, string | number> = {
      'content-type': m.contentType ?? 'application/x-gzip',
      'last-modified': 'Tue, 01 Oct 2024 10:00:00 GMT',
      'accept-ranges': 'bytes',
    };
    if (range && !m.ignoreRange) {
      start = Number(range[1]);
      if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      const shown = m.wrongContentRange ? Math.max(0, start - 1000) : start;
      headers['content-range'] = `bytes ${shown}-${size - 1}/${size}`;
      res.statusCode = 206;
    } else {
      res.statusCode = 200;
    }
    if (!m.chunked) headers['content-length'] = size - start;
    res.writeHead(res.statusCode, headers);
    if (req.method === 'HEAD') return void res.end();
    void this.send(res, file.body, start, m);
  }

  private async send(res: ServerResponse, body: Buffer, start: number, m: Misbehaviour): Promise<void> {
    const cut = m.resetAfter ?? m.stallAfter;
    const stop = cut !== undefined && cut > start ? cut : body.length;
    const slice = 16 * 1024;
    for (let offset = start; offset < stop; offset += slice) {
      if (res.destroyed) return;
      const chunk = body.subarray(offset, Math.min(offset + slice, stop));
      const drained = res.write(chunk);
      if (m.rate) await sleep((chunk.length / m.rate) * 1000);
      else if (!drained) await new Promise((resolve) => res.once('drain', resolve));
    }
    if (m.resetAfter !== undefined && m.resetAfter > start) {
      // Let the peer read what was sent first: a reset discards data still queued on loopback.
      await sleep(100);
      res.socket?.resetAndDestroy();
    } else if (m.stallAfter !== undefined && m.stallAfter > start) return;
    else res.end();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
