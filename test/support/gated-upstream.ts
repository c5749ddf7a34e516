import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { sleep } from './upstream-server.js';

/** How a body is sent: at a rate, optionally with a pause part-way. Default: all at once. */
export interface Pace {
  bytesPerSecond: number;
  /** Sends nothing for `pauseMs` once this many bytes are out. */
  pauseAt?: number;
  pauseMs?: number;
  /** With pauseAt: the pause lasts until this settles (and pauseMs more), however long that is. */
  resume?: Promise<unknown>;
}

const SLICE = 64 * 1024;

/**
 * A flat-layout mirror on 127.0.0.1 whose distfile responses wait, headers and all, until the
 * test opens the gate: requests for them can be held while portcache's clients come and go.
 * Every response closes its connection, so no keep-alive socket lingers in a test's fd count.
 */
export class GatedUpstream {
  private readonly files = new Map<string, { body: Buffer; pace?: Pace }>();
  private readonly sockets = new Set<Socket>();
  private readonly held: Array<() => void> = [];
  private gateOpen = true;
  private server!: Server;
  /** Names asked for, in order (layout.conf excluded). */
  readonly requested: string[] = [];
  url = '';

  static async start(): Promise<GatedUpstream> {
    const upstream = new GatedUpstream();
    upstream.server = createServer((req, res) => upstream.handle(req.url ?? '/', res));
    upstream.server.on('connection', (socket) => {
      upstream.sockets.add(socket);
      socket.on('close', () => upstream.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
    return upstream;
  }

  add(name: string, body: Buffer, pace?: Pace): this {
    this.files.set(name, { body, pace });
    return this;
  }

  /** Distfile requests from now on wait for open(). */
  close(): void {
    this.gateOpen = false;
  }

  /** Answers the held requests and lets later ones through. */
  open(): void {
    this.gateOpen = true;
    for (const answer of this.held.splice(0)) answer();
  }

  async stop(): Promise<void> {
    this.open();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(url: string, res: ServerResponse): void {
    res.shouldKeepAlive = false;
    const name = decodeURIComponent(url.replace(/^\/distfiles\//, ''));
    const file = name === 'layout.conf' ? undefined : this.files.get(name);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    this.requested.push(name);
    const { body, pace } = file;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/x-gzip', 'content-length': body.length });
      if (pace) void paced(res, body, pace);
      else res.end(body);
    };
    if (this.gateOpen) answer();
    else this.held.push(answer);
  }
}

async function paced(res: ServerResponse, body: Buffer, pace: Pace): Promise<void> {
  let paused = false;
  for (let offset = 0; offset < body.length && !res.destroyed; offset += SLICE) {
    if (!paused && pace.pauseAt !== undefined && offset >= pace.pauseAt) {
      paused = true;
      await pace.resume;
      await sleep(pace.pauseMs ?? 0);
    }
    const slice = body.subarray(offset, offset + SLICE);
    res.write(slice);
    await sleep((slice.length / pace.bytesPerSecond) * 1000);
  }
  res.end();
}
