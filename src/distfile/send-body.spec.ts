import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferPool } from '../cache/buffer-pool.js';
import type { FileSource } from '../cache/file-source.js';
import { OpenFiles } from '../cache/open-files.js';
import { bytesWrittenTo, loadSendfile, type SendRest } from '../common/sendfile.js';
import { type BodyOptions, sendBody } from './send-body.js';

const BODY = randomBytes(300_000);

/** Counts buffers not given back. */
class CountingPool extends BufferPool {
  outstanding = 0;
  override take(remaining: number): Buffer {
    this.outstanding += 1;
    return super.take(remaining);
  }
  override give(buffer: Buffer): void {
    this.outstanding -= 1;
    super.give(buffer);
  }
}

/**
 * `inner` (its descriptor too, if it has one) with a count of close() calls, when the first one
 * came, and how many bytes went through read().
 */
type CountedSource = FileSource & { closed: number; closedAt: number; bytesRead: number };

function counted(inner: FileSource): CountedSource {
  const source = {
    fd: inner.fd,
    closed: 0,
    closedAt: Number.NaN,
    bytesRead: 0,
    read(
      position: number,
      end: number,
      buffer: Buffer,
      callback: (e: Error | null, c: readonly Buffer[]) => void,
    ) {
      inner.read(position, end, buffer, (error, chunks) => {
        for (const chunk of chunks) source.bytesRead += chunk.length;
        callback(error, chunks);
      });
    },
    close() {
      source.closed += 1;
      source.closedAt ||= performance.now();
      inner.close();
    },
  };
  return source;
}

/** Endless bytes, each read answered at once (`delay` ms: later, for the reads it returns a number for). */
function endless(delay: (read: number) => number | undefined = () => undefined): FileSource {
  let reads = 0;
  return {
    read(_position, _end, buffer, callback) {
      const ms = delay(reads++);
      const chunk = buffer.subarray(0, Math.min(buffer.length, 16 * 1024));
      if (ms === undefined) callback(null, [chunk]);
      else setTimeout(() => callback(null, [chunk]), ms);
    },
    close() {},
  };
}

async function listen(handle: (res: ServerResponse) => void): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A raw GET (a paused socket does not see the server's reset: the server side tells when it was cut). */
function rawClient(port: number): { socket: Socket; received: () => number } {
  const socket = connect(port, '127.0.0.1', () => {
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  socket.on('error', () => undefined);
  return { socket, received: () => received };
}

/**
 * A GET whose client reads in bursts with pauses, so that the server finds the socket full again
 * and again. Resolves with the socket once `length` body bytes arrived, and the body.
 */
async function readSlowly(port: number, length: number): Promise<Socket & { body: Buffer }> {
  const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  const chunks: Buffer[] = [];
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
    socket.pause();
    setTimeout(() => socket.resume(), 1);
  });
  const headerBytes = () => Buffer.concat(chunks).indexOf('\r\n\r\n') + 4;
  expect(await until(() => received > 0 && received - headerBytes() >= length, 20_000)).toBe(true);
  return Object.assign(socket, { body: Buffer.concat(chunks).subarray(headerBytes()) });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(10)) {
    if (Date.now() > deadline) return false;
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What sendBody touches of a response, with a socket whose unsent bytes the test sets. */
class FakeResponse extends EventEmitter {
  destroyed = false;
  destroyCalls = 0;
  ended = false;
  socket = { destroyed: false, _handle: { writeQueueSize: 0 } };
  written = 0;
  /** Callback of the pending write: the test calls it when "the client took the bytes". */
  pending: ((error?: Error | null) => void) | undefined;
  cork() {}
  uncork() {}
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
    this.written += chunk.length;
    if (callback) this.pending = callback;
    return false;
  }
  end(chunk?: Buffer): this {
    if (chunk) this.written += chunk.length;
    this.ended = true;
    process.nextTick(() => this.emit('close'));
    return this;
  }
  destroy(): this {
    this.destroyCalls += 1;
    this.destroyed = true;
    process.nextTick(() => this.emit('close'));
    return this;
  }
}

/** GET on a server whose only handler is `handle`; resolves with what arrived and how it ended. */
async function fetchFrom(handle: (res: ServerResponse) => void, abortAfter?: number) {
  const server = http.createServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<{ body: Buffer; complete: boolean }>((resolve) => {
      http.get({ port, host: '127.0.0.1', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
          if (abortAfter !== undefined && length >= abortAfter) res.destroy();
        });
        res.on('close', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
      });
    });
  } finally {
    server.close();
  }
}

describe('sendBody', () => {
  let dir: string;
  let files: OpenFiles;
  const pool = new BufferPool(16 * 1024, 64 * 1024, 2, 4);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcache-send-body-'));
    writeFileSync(join(dir, 'file'), BODY);
    files = new OpenFiles(10);
  });
  afterEach(async () => {
    files.clear();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the whole file, or a range of it, in pooled buffers', async () => {
    const whole = await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(BODY.length)]);
      sendBody(res, files.acquire(join(dir, 'file')), 0, BODY.length, { pool });
    });
    expect(whole.complete).toBe(true);
    expect(whole.body.equals(BODY)).toBe(true);
    const part = await fetchFrom((res) => {
      res.writeHead(206, ['content-length', '100000']);
      sendBody(res, files.acquire(join(dir, 'file')), 1000, 101_000, { pool });
    });
    expect(part.body.equals(BODY.subarray(1000, 101_000))).toBe(true);
  });

  it('cuts the connection when the source fails, so the body is never complete', async () => {
    let closed = 0;
    const failing: FileSource = {
      read: (position, _end, buffer, callback) =>
        position < 50_000
          ? callback(null, [buffer.subarray(0, Math.min(buffer.length, 50_000 - position))])
          : callback(new Error('disk on fire'), []),
      close: () => {
        closed += 1;
      },
    };
    const result = await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(BODY.length)]);
      sendBody(res, failing, 0, BODY.length, { pool });
    });
    expect(result.complete).toBe(false);
    expect(result.body.length).toBe(50_000);
    expect(closed).toBe(1);
  });

  it('lets go of the source once when the client goes away', async () => {
    let closed = 0;
    const source = files.acquire(join(dir, 'file'));
    const endless: FileSource = {
      read: (position, _end, buffer, callback) =>
        source.read(position % BODY.length, BODY.length, buffer, callback),
      close: () => {
        closed += 1;
        source.close();
      },
    };
    await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(1e12)]);
      sendBody(res, endless, 0, 1e12, { pool });
    }, 1_000_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(1);
  });

  it('lets go of the source and buffer at once when the client left before the headers', async () => {
    const counting = new CountingPool(16 * 1024, 64 * 1024, 2, 4);
    let source: ReturnType<typeof counted> | undefined;
    // The response waits (as for an upstream or a fill slot) until its client is gone.
    const { server, port } = await listen((res) =>
      res.once('close', () => {
        res.writeHead(200, ['content-length', String(BODY.length)]);
        source = counted(files.acquire(join(dir, 'file')));
        sendBody(res, source, 0, BODY.length, { pool: counting, clientTimeoutMs: 10_000 });
      }),
    );
    try {
      const client = rawClient(port);
      await sleep(50);
      client.socket.destroy();
      expect(await until(() => source !== undefined, 2000)).toBe(true);
      expect(await until(() => source?.closed === 1 && counting.outstanding === 0, 500)).toBe(true);
      await sleep(50);
      expect(source?.closed).toBe(1);
      expect(counting.outstanding).toBe(0);
    } finally {
      server.close();
    }
  });

  it('cuts a client that stops reading after the client timeout, letting go of source and buffer', async () => {
    const counting = new CountingPool(16 * 1024, 64 * 1024, 2, 4);
    const source = counted(endless());
    const { server, port } = await listen((res) => {
      res.writeHead(200, ['content-length', String(1e12)]);
      sendBody(res, source, 0, 1e12, { pool: counting, clientTimeoutMs: 500 });
    });
    try {
      const started = performance.now();
      const client = rawClient(port);
      client.socket.once('data', () => client.socket.pause()); // takes the headers, never the body
      expect(await until(() => source.closed === 1 && counting.outstanding === 0, 4000)).toBe(true);
      // Timeout 500 ms, plus up to ~2 sweeps of 250 ms, plus filling the socket buffers.
      expect(source.closedAt - started).toBeGreaterThanOrEqual(500);
      expect(source.closedAt - started).toBeLessThan(2500);
      await sleep(50);
      expect(source.closed).toBe(1);
      client.socket.destroy();
    } finally {
      server.close();
    }
  });

  it('does not count the time spent waiting for the source (a fill) against the client', async () => {
    const counting = new CountingPool(16 * 1024, 64 * 1024, 2, 4);
    // Three reads wait 600 ms each (bytes still upstream), longer than the 300 ms client timeout.
    const source = counted(endless((read) => (read < 3 ? 600 : undefined)));
    const { server, port } = await listen((res) => {
      res.writeHead(200, ['content-length', String(1e12)]);
      sendBody(res, source, 0, 1e12, { pool: counting, clientTimeoutMs: 300 });
    });
    try {
      const started = performance.now();
      const client = rawClient(port);
      // Reads the slow part, then stops reading: only then is it cut.
      expect(await until(() => client.received() > 3 * 16 * 1024, 4000)).toBe(true);
      client.socket.pause();
      expect(await until(() => source.closed === 1 && counting.outstanding === 0, 4000)).toBe(true);
      expect(source.closedAt - started).toBeGreaterThan(1800 + 300);
      client.socket.destroy();
    } finally {
      server.close();
    }
  });

  it('with a fake response: a write the client takes part of is no stall; one it never takes is cut', async () => {
    const counting = new CountingPool(16 * 1024, 64 * 1024, 2, 4);
    const source = counted(endless());
    const res = new FakeResponse();
    sendBody(res as unknown as ServerResponse, source, 0, 1e12, { pool: counting, clientTimeoutMs: 300 });
    expect(res.pending).toBeDefined();
    // 1.2 s on one write, the kernel taking some of its bytes every 100 ms: no cut.
    res.socket._handle.writeQueueSize = 1_000_000;
    for (let i = 0; i < 12; i++) {
      await sleep(100);
      res.socket._handle.writeQueueSize -= 10_000;
    }
    expect(res.destroyCalls).toBe(0);
    const first = res.pending;
    res.pending = undefined;
    first?.();
    expect(res.pending).toBeDefined(); // the next write
    // This one gets no byte taken: cut within the timeout plus ~2 sweeps.
    const started = Date.now();
    expect(await until(() => res.destroyCalls > 0, 2000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    await sleep(20); // 'close' follows the destroy
    expect(res.destroyCalls).toBe(1);
    expect(source.closed).toBe(1);
    expect(counting.outstanding).toBe(0);
  });
});

describe.each([
  { how: 'sendfile, waiting for room through a small buffered write', rest: false },
  { how: 'sendfile, the rest sent from the event loop (sendRest)', rest: true },
])('sendBody with $how', ({ rest }) => {
  const loaded = loadSendfile();
  const { sendfile, missing } = loaded;
  const sendRest = rest ? loaded.sendRest : undefined;
  const BIG = Buffer.concat(Array.from({ length: 24 }, () => randomBytes(1024 * 1024)));
  let dir: string;
  let files: OpenFiles;
  beforeEach(async () => {
    // `npm test` builds it first (pretest); CI must exercise it.
    expect(missing, 'dist/native/sendfile.node: run `npm run build`').toBeUndefined();
    if (rest) expect(loaded.sendRest, 'dist/native/sendfile.node: run `npm run build`').toBeDefined();
    dir = await mkdtemp(join(tmpdir(), 'portcache-sendfile-'));
    writeFileSync(join(dir, 'big'), BIG);
    files = new OpenFiles(10);
  });
  afterEach(async () => {
    files.clear();
    await rm(dir, { recursive: true, force: true });
  });

  /** The big file, with its descriptor, counted. */
  const bigFile = () => counted(files.acquire(join(dir, 'big')));

  /** A server that sends the big file with `options`. */
  const serveBig = (source: FileSource, options: BodyOptions) =>
    listen((res) => {
      res.writeHead(200, ['content-length', String(BIG.length)]);
      sendBody(res, source, 0, BIG.length, options);
    });

  it('sends the whole file and ranges of it, reading only the first buffer, and counts the bytes sent', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    for (const [start, end] of [
      [0, BIG.length],
      [5_000_000, 9_000_001],
      [BIG.length - 10, BIG.length],
    ]) {
      const source = bigFile();
      let socket: Socket | null = null;
      const result = await fetchFrom((res) => {
        socket = res.socket;
        res.writeHead(start === 0 ? 200 : 206, ['content-length', String(end - start)]);
        sendBody(res, source, start, end, { pool, sendfile, sendRest });
      });
      expect(result.complete).toBe(true);
      expect(result.body.equals(BIG.subarray(start, end))).toBe(true);
      // The first 64 KiB go with the headers; a fast client leaves little for the buffer after that.
      expect(source.bytesRead).toBeLessThan(Math.max(end - start, 64 * 1024 + 1) / 4 + 64 * 1024);
      expect(bytesWrittenTo(socket as unknown as Socket)).toBeGreaterThan(end - start);
      expect(await until(() => source.closed === 1 && pool.outstanding === 0, 1000)).toBe(true);
    }
  });

  it('a slow reader gets every byte: a full socket waits for room, then sendfile goes on', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    const { server, port } = await serveBig(source, { pool, sendfile, sendRest, clientTimeoutMs: 5000 });
    try {
      const socket = await readSlowly(port, BIG.length);
      expect(socket.body.equals(BIG)).toBe(true);
      if (rest) {
        // Only the first buffer, with the headers: the waits went through the addon.
        expect(source.bytesRead).toBeLessThanOrEqual(64 * 1024);
      } else {
        // Some waits went through the buffer, a small part of the body.
        expect(source.bytesRead).toBeGreaterThan(64 * 1024);
        expect(source.bytesRead).toBeLessThan(BIG.length / 4);
      }
      socket.destroy();
      expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('cuts a client that stops reading after the client timeout, letting go of file and buffer', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    const { server, port } = await serveBig(source, { pool, sendfile, sendRest, clientTimeoutMs: 500 });
    try {
      const started = performance.now();
      const client = rawClient(port);
      client.socket.once('data', () => client.socket.pause());
      expect(await until(() => source.closed === 1 && pool.outstanding === 0, 4000)).toBe(true);
      expect(source.closedAt - started).toBeGreaterThanOrEqual(500);
      expect(client.received()).toBeLessThan(BIG.length);
      client.socket.destroy();
    } finally {
      server.close();
    }
  });

  it('a client that vanishes mid-body: the file and buffer are let go once', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    const result = await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(BIG.length)]);
      sendBody(res, source, 0, BIG.length, { pool, sendfile, sendRest });
    }, 3_000_000);
    expect(result.complete).toBe(false);
    expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
    await sleep(50);
    expect(source.closed).toBe(1);
  });

  it('where sendfile refuses the descriptors (EINVAL), the rest of the body goes through the buffer', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    let calls = 0;
    const refusing = () => {
      calls += 1;
      return -22;
    };
    const result = await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(BIG.length)]);
      sendBody(res, source, 0, BIG.length, { pool, sendfile: refusing, sendRest });
    });
    expect(result.complete).toBe(true);
    expect(result.body.equals(BIG)).toBe(true);
    expect(calls).toBe(1);
    expect(source.bytesRead).toBe(BIG.length);
    expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
  });

  it('leaves no socket descriptor behind: after a whole body, a client that vanished and one that was cut', async () => {
    const sockets = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
    const before = sockets();
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const sources: CountedSource[] = [];
    const send = (res: ServerResponse) => {
      res.writeHead(200, ['content-length', String(BIG.length)]);
      const source = bigFile();
      sources.push(source);
      sendBody(res, source, 0, BIG.length, { pool, sendfile, sendRest, clientTimeoutMs: 500 });
    };
    expect((await fetchFrom(send)).complete).toBe(true);
    expect((await fetchFrom(send, 3_000_000)).complete).toBe(false);
    const { server, port } = await listen(send);
    try {
      const client = rawClient(port);
      client.socket.once('data', () => client.socket.pause());
      expect(await until(() => sources.length === 3 && sources[2].closed === 1, 4000)).toBe(true);
      client.socket.destroy();
    } finally {
      server.close();
    }
    expect(await until(() => pool.outstanding === 0 && sources.every((s) => s.closed === 1), 2000)).toBe(
      true,
    );
    expect(await until(() => sockets() <= before, 2000)).toBe(true);
  });

  it.runIf(rest)(
    'when the addon cannot start (no descriptor to duplicate), the rest waits through the buffer',
    async () => {
      const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
      const source = bigFile();
      let starts = 0;
      const failing = {
        ...(sendRest as SendRest),
        start: () => {
          starts += 1;
          throw new Error('sendRest: cannot duplicate the socket descriptor');
        },
      };
      const { server, port } = await serveBig(source, { pool, sendfile, sendRest: failing });
      try {
        const socket = await readSlowly(port, BIG.length);
        expect(socket.body.equals(BIG)).toBe(true);
        expect(starts).toBeGreaterThan(0);
        socket.destroy();
        expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
      } finally {
        server.close();
      }
    },
  );

  it('a response cut mid-body (as at shutdown) has every byte it sent counted by the time others hear of its close', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    let counted = -1;
    let cut = (): void => undefined;
    const { server, port } = await listen((res) => {
      // As the access log does: listening from before the body starts.
      res.on('close', () => {
        counted = bytesWrittenTo(res.socket as Socket);
      });
      cut = () => res.socket?.destroy();
      res.writeHead(200, ['content-length', String(BIG.length)]);
      sendBody(res, source, 0, BIG.length, { pool, sendfile, sendRest });
    });
    try {
      const client = rawClient(port);
      client.socket.pause(); // the server's socket fills: the rest waits (in the addon, with sendRest)
      await sleep(300);
      client.socket.resume();
      await until(() => client.received() > 8_000_000, 5000); // sent while it waited
      client.socket.pause();
      await sleep(200);
      cut();
      client.socket.resume(); // what the server sent before the cut still arrives
      const ended = await until(() => client.socket.readableEnded || client.socket.destroyed, 5000);
      expect(ended).toBe(true);
      expect(await until(() => counted >= 0, 2000)).toBe(true);
      expect(counted).toBeGreaterThanOrEqual(client.received());
      expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a file shorter than the response says cuts the connection: never a clean end', async () => {
    const pool = new CountingPool(64 * 1024, 1024 * 1024, 2, 4);
    const source = bigFile();
    const result = await fetchFrom((res) => {
      res.writeHead(200, ['content-length', String(BIG.length + 1000)]);
      sendBody(res, source, 0, BIG.length + 1000, { pool, sendfile, sendRest });
    });
    expect(result.complete).toBe(false);
    expect(result.body.equals(BIG)).toBe(true);
    expect(await until(() => source.closed === 1 && pool.outstanding === 0, 2000)).toBe(true);
  });
});
