import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { giveSlab, takeSlab } from '../common/slabs.js';

/** A response head (status line and headers) longer than this is refused. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*$/;

/** The response is one the plain path does not handle (1xx, a chunked 2xx body): ask through undici. */
export class NotPlain extends Error {}

/** An error with the code undici would give, so describeUpstreamError words both paths alike. */
function upstreamError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Opens a TCP connection whose reads go to `onread` (net.connect's option) instead of a stream. */
export type PlainConnect = (
  url: URL,
  onread: { buffer: Buffer; callback: (bytesRead: number, buffer: Buffer) => boolean },
) => Promise<Socket>;

export interface PlainResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: PlainBody;
}

/**
 * GET `url` over plain HTTP/1.1 on a connection of its own (Connection: close), for the big
 * bodies of fills. The socket reads into one reused buffer (net's `onread`): a stream socket
 * allocates a new buffer per read, and at fill speeds those buffers were garbage the GC
 * collected only every ~64 MB (V8's external-memory limit), which drove both peak memory and
 * full GCs (docs/performance-notes.md). A 1xx or a chunked 2xx body rejects with NotPlain
 * before any byte of the body is used.
 */
export async function plainGet(
  url: URL,
  headers: Record<string, string>,
  connect: PlainConnect,
  stallTimeoutMs: number,
): Promise<PlainResponse> {
  const reader = new ResponseReader();
  // Socket reads land in one slab, reused for every read and given back when the socket closes.
  const buffer = takeSlab();
  let socket: Socket;
  try {
    socket = await connect(url, { buffer, callback: reader.onRead });
  } catch (error) {
    giveSlab(buffer);
    throw error;
  }
  socket.once('close', () => giveSlab(buffer));
  return reader.start(socket, requestHead(url, headers), stallTimeoutMs);
}

function requestHead(url: URL, headers: Record<string, string>): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}connection: close\r\n\r\n`;
}

/** Reads the response head, then hands the rest of the socket's bytes to the PlainBody. */
class ResponseReader {
  /** The bytes read so far of the head (a copy: the read buffer is reused). */
  private head = Buffer.alloc(0);
  private body: PlainBody | undefined;
  private settle: { resolve: (r: PlainResponse) => void; reject: (e: Error) => void } | undefined;
  private socket: Socket | undefined;

  private stallTimeoutMs = 0;

  start(socket: Socket, head: string, stallTimeoutMs: number): Promise<PlainResponse> {
    this.socket = socket;
    this.stallTimeoutMs = stallTimeoutMs;
    return new Promise<PlainResponse>((resolve, reject) => {
      this.settle = { resolve, reject };
      socket.setTimeout(stallTimeoutMs);
      socket.on('timeout', () =>
        this.fail(
          this.body
            ? upstreamError('UND_ERR_BODY_TIMEOUT', 'body stalled')
            : upstreamError('UND_ERR_HEADERS_TIMEOUT', 'no response headers'),
        ),
      );
      socket.on('error', (error) => this.fail(error));
      socket.on('close', () => this.ended());
      socket.write(head);
    });
  }

  readonly onRead = (bytesRead: number, buffer: Buffer): boolean => {
    const bytes = buffer.subarray(0, bytesRead);
    if (this.body) return this.body.deliver(bytes);
    return this.readHead(bytes);
  };

  private readHead(bytes: Buffer): boolean {
    const all = Buffer.concat([this.head, bytes]);
    const end = all.indexOf(HEAD_END);
    if (end < 0) {
      this.head = all;
      if (all.length > MAX_HEAD_BYTES) {
        this.fail(upstreamError('UND_ERR_HEADERS_OVERFLOW', 'response head too long'));
      }
      return true;
    }
    let response: PlainResponse;
    try {
      response = this.parse(all.subarray(0, end).toString('latin1'));
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
    this.head = Buffer.alloc(0);
    const rest = all.subarray(end + HEAD_END.length);
    this.body = response.body;
    this.settle?.resolve(response);
    this.settle = undefined;
    // Bytes of the body that came with the head wait until the body is consumed.
    return response.body.deliverFirst(rest);
  }

  private parse(text: string): PlainResponse {
    const [statusLine, ...lines] = text.split('\r\n');
    const status = STATUS_LINE.exec(statusLine);
    if (!status) throw upstreamError('UND_ERR_SOCKET', `malformed status line: ${statusLine.slice(0, 80)}`);
    const headers: Record<string, string | string[]> = {};
    for (const line of lines) {
      const field = HEADER_LINE.exec(line);
      if (!field) throw upstreamError('UND_ERR_SOCKET', `malformed header line: ${line.slice(0, 80)}`);
      const name = field[1].toLowerCase();
      const previous = headers[name];
      headers[name] = previous === undefined ? field[2] : [previous, field[2]].flat();
    }
    const statusCode = Number(status[1]);
    const chunked = headers['transfer-encoding'] !== undefined;
    // Only a 2xx body is used; others (redirects, errors) are thrown away unread, however framed.
    if (statusCode < 200 || (chunked && statusCode < 300)) {
      throw new NotPlain(`HTTP ${statusCode}${chunked ? ', Transfer-Encoding' : ''}`);
    }
    const length = headers['content-length'];
    if (Array.isArray(length) && new Set(length).size > 1) {
      throw upstreamError('UND_ERR_SOCKET', 'conflicting Content-Length headers');
    }
    const declared = Array.isArray(length) ? length[0] : length;
    if (declared !== undefined && !/^\d+$/.test(declared)) {
      throw upstreamError('UND_ERR_SOCKET', `invalid Content-Length: ${declared.slice(0, 40)}`);
    }
    const socket = this.socket as Socket;
    const bodyLength = declared === undefined || chunked ? Number.POSITIVE_INFINITY : Number(declared);
    return { statusCode, headers, body: new PlainBody(socket, bodyLength, this.stallTimeoutMs) };
  }

  private ended(): void {
    if (this.body) this.body.socketEnded();
    else this.fail(upstreamError('UND_ERR_SOCKET', 'other side closed'));
  }

  private fail(error: Error): void {
    if (this.body) {
      this.body.destroy(error);
      return;
    }
    this.socket?.destroy();
    this.settle?.reject(error);
    this.settle = undefined;
  }
}

/**
 * The body of a PlainResponse, with the part of Readable's interface copyBodyToPartial and
 * SourceAttempt use. 'data' chunks are views of the connection's read buffer, valid only during
 * the event: a listener that keeps bytes copies them (copyBodyToPartial does).
 */
export class PlainBody extends EventEmitter {
  private paused = true;
  private first: Buffer | undefined;
  private done = false;
  private started = false;

  constructor(
    private readonly socket: Socket,
    /** Bytes of the body still to come (Infinity: until the connection closes). */
    private remaining: number,
    /** No byte for this long while the body flows: the read times out (not while paused). */
    private readonly stallTimeoutMs: number,
  ) {
    super();
    // Like a Readable: a 'data' listener starts the flow, after the caller attached the rest.
    this.on('newListener', (event) => {
      if (event !== 'data' || this.started) return;
      this.started = true;
      process.nextTick(() => this.resume());
    });
  }

  isPaused(): boolean {
    return this.paused;
  }

  pause(): this {
    this.paused = true;
    this.socket.setTimeout(0); // waiting for our disk is not the upstream's stall
    return this;
  }

  resume(): this {
    if (!this.paused || this.done) return this;
    this.paused = false;
    this.socket.setTimeout(this.stallTimeoutMs);
    const first = this.first;
    this.first = undefined;
    if (first && first.length > 0 && !this.deliver(first)) return this;
    if (!this.done && this.remaining === 0) this.finish();
    else if (!this.done) this.socket.resume(); // restarts reading after onread returned false
    return this;
  }

  /**
   * Body bytes that came with the head (the reader's own copy), kept until the flow starts.
   * Returns false: nothing more is read before a consumer asks.
   */
  deliverFirst(bytes: Buffer): boolean {
    if (bytes.length > 0) this.first = bytes;
    this.socket.setTimeout(0);
    return false;
  }

  /** Hands `bytes` to the listeners; false stops reading until resume(). */
  deliver(bytes: Buffer): boolean {
    if (this.done) return false;
    const chunk = bytes.length > this.remaining ? bytes.subarray(0, this.remaining) : bytes;
    this.remaining -= chunk.length;
    if (chunk.length > 0) this.emit('data', chunk);
    if (this.remaining === 0) {
      this.finish();
      return false;
    }
    return !this.paused && !this.done;
  }

  socketEnded(): void {
    if (this.done) return;
    if (this.remaining === Number.POSITIVE_INFINITY) this.finish();
    else this.destroy(upstreamError('UND_ERR_SOCKET', 'other side closed'));
  }

  destroy(error?: Error): this {
    if (this.done) return this;
    this.done = true;
    this.socket.destroy();
    if (error) process.nextTick(() => this.emit('error', error));
    return this;
  }

  /** Throws the rest away: the connection is closed (it is not reused anyway). */
  dump(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    process.nextTick(() => this.emit('end'));
  }
}
