import type { Socket } from 'node:net';
import { giveSlab, takeSlab } from '../common/slabs.js';

/** Opens a TCP connection whose reads go to `onread` (net.connect's option) instead of a stream. */
export type PlainConnect = (
  url: URL,
  onread: { buffer: Buffer; callback: (bytesRead: number, buffer: Buffer) => boolean },
) => Promise<Socket>;

/** What uses a connection for one request: its reads and how the socket ends. */
export interface ConnectionUser {
  /** False stops reading until the socket is resumed. */
  read(bytes: Buffer): boolean;
  timedOut(): void;
  failed(error: Error): void;
  closed(): void;
}

/** An idle connection is closed after this long unused (servers often close theirs after 5 s). */
const IDLE_MS = 4000;
/** Idle connections kept per origin. */
const IDLE_PER_ORIGIN = 4;

/**
 * A plain upstream connection reading into its own slab; one request at a time uses it. While
 * idle, any byte from the server or the end of the stream closes it.
 */
export class PlainConnection {
  user: ConnectionUser | undefined;
  /** Set once the server's first byte for the current request arrived. */
  answered = false;

  constructor(readonly socket: Socket) {
    socket.on('timeout', () => (this.user ? this.user.timedOut() : socket.destroy()));
    socket.on('error', (error) => this.user?.failed(error));
    socket.on('close', () => this.user?.closed());
  }

  readonly onRead = (bytesRead: number, buffer: Buffer): boolean => {
    if (!this.user) {
      this.socket.destroy();
      return false;
    }
    this.answered = true;
    return this.user.read(buffer.subarray(0, bytesRead));
  };

  /** A request starts on this connection. */
  use(user: ConnectionUser): void {
    this.user = user;
    this.answered = false;
    this.socket.ref();
  }
}

/**
 * Plain-HTTP connections to upstream hosts, kept open between fills: a miss that follows another
 * from the same mirror skips the TCP handshake (a round trip to a distant mirror; on loopback
 * ~0.7 ms of a miss's first byte). A connection goes back only after a body read to its exact end.
 */
export class PlainConnections {
  private readonly idle = new Map<string, PlainConnection[]>();
  private closing = false;

  constructor(
    private readonly connect: PlainConnect,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** An idle connection to `url`'s origin, if one is open. */
  takeIdle(url: URL): PlainConnection | undefined {
    const list = this.idle.get(url.origin);
    for (let connection = list?.pop(); connection; connection = list?.pop()) {
      if (!connection.socket.destroyed) return connection;
    }
    return undefined;
  }

  /** A new connection to `url`'s origin; its read slab goes back to the pool when it closes. */
  async open(url: URL): Promise<PlainConnection> {
    const buffer = takeSlab();
    let connection: PlainConnection | undefined;
    let socket: Socket;
    try {
      socket = await this.connect(url, {
        buffer,
        callback: (bytesRead, read) => (connection as PlainConnection).onRead(bytesRead, read),
      });
    } catch (error) {
      giveSlab(buffer);
      throw error;
    }
    connection = new PlainConnection(socket);
    socket.once('close', () => {
      giveSlab(buffer);
      this.forget(url.origin, connection);
    });
    return connection;
  }

  /** The request on `connection` is over and the connection clean: kept for the next one, or closed. */
  release(url: URL, connection: PlainConnection): void {
    const list = this.idle.get(url.origin) ?? [];
    const socket = connection.socket;
    connection.user = undefined;
    if (this.closing || socket.destroyed || list.length >= IDLE_PER_ORIGIN) {
      socket.destroy();
      return;
    }
    list.push(connection);
    this.idle.set(url.origin, list);
    socket.setTimeout(this.idleMs);
    socket.unref();
    socket.resume(); // to see the server close it
  }

  /** Closes the idle connections; later ones are closed when released. */
  close(): void {
    this.closing = true;
    for (const list of this.idle.values()) for (const connection of list) connection.socket.destroy();
    this.idle.clear();
  }

  private forget(origin: string, connection: PlainConnection): void {
    const list = this.idle.get(origin);
    const at = list?.indexOf(connection) ?? -1;
    if (at >= 0) list?.splice(at, 1);
    if (list?.length === 0) this.idle.delete(origin);
  }
}
