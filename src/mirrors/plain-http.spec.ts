import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freeSlabs } from '../common/slabs.js';
import { NotPlain, type PlainBody, type PlainConnect, plainGet } from './plain-http.js';

const connectPlain: PlainConnect = (url, onread) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), onread }, () => resolve(socket));
    socket.once('error', reject);
  });

/** A server that answers each connection with `answer` (after reading the request head). */
async function serve(
  answer: (socket: Socket, request: string) => void,
): Promise<{ server: Server; url: URL }> {
  const server = createServer((socket) => {
    let request = '';
    socket.on('data', (chunk) => {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n')) answer(socket, request);
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: new URL(`http://127.0.0.1:${port}/distfiles/a.tar.gz`) };
}

/** Copies every chunk (they are views of a reused buffer) until the end or an error. */
function collect(body: PlainBody): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    body.on('end', () => resolve(Buffer.concat(chunks)));
    body.on('error', reject);
  });
}

describe('plainGet', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    server = undefined;
  });

  it('sends a plain GET and streams a body that spans the head read and many reused reads', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    let seen = '';
    const s = await serve((socket, request) => {
      seen = request;
      socket.write(
        `HTTP/1.1 206 Partial Content\r\nContent-Length: ${payload.length}\r\nX-A: 1\r\nx-a: 2\r\n\r\n`,
      );
      socket.write(payload.subarray(0, 1000));
      setTimeout(() => socket.end(payload.subarray(1000)), 10);
    });
    server = s.server;
    const response = await plainGet(s.url, { range: 'bytes=5-' }, connectPlain, 5000);
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-length']).toBe(String(payload.length));
    expect(response.headers['x-a']).toEqual(['1', '2']);
    expect((await collect(response.body)).equals(payload)).toBe(true);
    expect(seen).toMatch(/^GET \/distfiles\/a\.tar\.gz HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    expect(seen).toContain('\r\nrange: bytes=5-\r\n');
    expect(seen).toContain('\r\nconnection: close\r\n');
  });

  it('holds reading while paused, and hands over every byte after resume', async () => {
    const payload = randomBytes(8 * 1024 * 1024);
    const s = await serve((socket) => {
      socket.end(
        Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n\r\n`), payload]),
      );
    });
    server = s.server;
    const { body } = await plainGet(s.url, {}, connectPlain, 5000);
    const chunks: Buffer[] = [];
    let received = 0;
    let whilePaused = 0;
    const ended = new Promise<void>((resolve, reject) => {
      body.on('end', resolve);
      body.on('error', reject);
    });
    let paused = false;
    body.on('data', (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      received += chunk.length;
      if (paused) whilePaused += 1;
      if (received > 1024 * 1024 && received < 2 * 1024 * 1024 && !paused && whilePaused === 0) {
        body.pause();
        paused = true;
        setTimeout(() => {
          paused = false;
          body.resume();
        }, 50);
      }
    });
    await ended;
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    expect(whilePaused).toBeLessThanOrEqual(1); // the read under way when pause() came
  });

  it('reads a body without Content-Length until the connection closes', async () => {
    const s = await serve((socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nall of it'));
    server = s.server;
    const response = await plainGet(s.url, {}, connectPlain, 5000);
    expect((await collect(response.body)).toString()).toBe('all of it');
  });

  it('leaves chunked bodies and 1xx to undici (NotPlain), and returns a redirect however framed', async () => {
    const redirect = await serve((socket) =>
      socket.end('HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    );
    server = redirect.server;
    const response = await plainGet(redirect.url, {}, connectPlain, 5000);
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe('/elsewhere');
    await response.body.dump();
    redirect.server.close();
    const early = await serve((socket) =>
      socket.end('HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'),
    );
    await expect(plainGet(early.url, {}, connectPlain, 5000)).rejects.toBeInstanceOf(NotPlain);
    early.server.close();
    const chunked = await serve((socket) =>
      socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
    );
    server = chunked.server;
    await expect(plainGet(chunked.url, {}, connectPlain, 5000)).rejects.toBeInstanceOf(NotPlain);
  });

  it('fails a body cut short, with the error undici would give', async () => {
    const s = await serve((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'));
    server = s.server;
    const response = await plainGet(s.url, {}, connectPlain, 5000);
    await expect(collect(response.body)).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('refuses malformed heads and conflicting lengths', async () => {
    for (const head of [
      'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: x\r\n\r\n',
      'ICY 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n',
    ]) {
      const s = await serve((socket) => socket.end(head));
      await expect(plainGet(s.url, {}, connectPlain, 5000), head).rejects.toMatchObject({
        code: 'UND_ERR_SOCKET',
      });
      s.server.close();
    }
  });

  it('times out a stalled head or body, and gives its read buffer back when the socket closes', async () => {
    const silent = await serve(() => undefined);
    server = silent.server;
    await expect(plainGet(silent.url, {}, connectPlain, 100)).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_TIMEOUT',
    });
    silent.server.close();
    const stalled = await serve((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome'),
    );
    server = stalled.server;
    const before = freeSlabs();
    const response = await plainGet(stalled.url, {}, connectPlain, 100);
    await expect(collect(response.body)).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(freeSlabs()).toBe(before + 1);
  });
});
