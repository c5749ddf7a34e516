import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freeSlabs } from '../common/slabs.js';
import { type PlainConnect, PlainConnections } from './plain-connections.js';
import { type PlainBody, plainGet } from './plain-http.js';

const connectPlain: PlainConnect = (url, onread) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), onread }, () => resolve(socket));
    socket.once('error', reject);
  });

/**
 * A keep-alive server: `answer` gets every request head on a connection, with the request's
 * number on that connection (0 first). Counts connections and the ones closed.
 */
async function serve(answer: (socket: Socket, nth: number) => void) {
  const state = {
    connections: 0,
    closed: 0,
    server: undefined as unknown as Server,
    url: new URL('http://x'),
  };
  state.server = createServer((socket) => {
    state.connections += 1;
    let pending = '';
    let nth = 0;
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(end + 4);
        answer(socket, nth++);
      }
    });
    socket.on('close', () => {
      state.closed += 1;
    });
    socket.on('error', () => undefined);
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  const { port } = state.server.address() as AddressInfo;
  state.url = new URL(`http://127.0.0.1:${port}/distfiles/a.tar.gz`);
  return state;
}

function collect(body: PlainBody): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    body.on('end', () => resolve(Buffer.concat(chunks).toString()));
    body.on('error', reject);
  });
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(5);
}

describe('PlainConnections', () => {
  const servers: Server[] = [];
  const pools: PlainConnections[] = [];
  const pool = (idleMs?: number) => {
    const connections = new PlainConnections(connectPlain, idleMs);
    pools.push(connections);
    return connections;
  };
  afterEach(() => {
    for (const connections of pools.splice(0)) connections.close();
    for (const server of servers.splice(0)) server.close();
  });

  it('sends the next GET to the same origin on the connection the last body ended on', async () => {
    const s = await serve((socket, nth) => socket.write(ok(`body ${nth}`)));
    servers.push(s.server);
    const connections = pool();
    for (let i = 0; i < 3; i++) {
      const response = await plainGet(s.url, {}, connections, 5000);
      expect(await collect(response.body)).toBe(`body ${i}`);
    }
    expect(s.connections).toBe(1);
    connections.close();
    await until(() => s.closed === 1);
    expect(s.closed).toBe(1);
  });

  it('opens a new connection when the kept one was closed before it answered (and says nothing of it)', async () => {
    // The server closes each connection on its second request without answering: the race of
    // a server's keep-alive timeout with the next request.
    const s = await serve((socket, nth) => (nth === 0 ? socket.write(ok('fine')) : socket.destroy()));
    servers.push(s.server);
    const connections = pool();
    expect(await collect((await plainGet(s.url, {}, connections, 5000)).body)).toBe('fine');
    expect(await collect((await plainGet(s.url, {}, connections, 5000)).body)).toBe('fine');
    expect(s.connections).toBe(2);
  });

  it('does not keep a connection the server closes, one with bytes past the body, or one left mid-body', async () => {
    const answers = [ok('a', 'Connection: close\r\n'), `${ok('b')}extra`, ok('a longer body')];
    const s = await serve((socket) => socket.write(answers[s.connections - 1]));
    servers.push(s.server);
    const connections = pool();
    expect(await collect((await plainGet(s.url, {}, connections, 5000)).body)).toBe('a');
    expect(await collect((await plainGet(s.url, {}, connections, 5000)).body)).toBe('b');
    const cut = await plainGet(s.url, {}, connections, 5000);
    cut.body.on('data', () => cut.body.destroy());
    await sleep(20);
    await until(() => s.closed === 3);
    expect(s.closed).toBe(3);
  });

  it('closes an idle connection after the idle time and gives its read buffer back', async () => {
    const s = await serve((socket) => socket.write(ok('x')));
    servers.push(s.server);
    const connections = pool(50);
    expect(await collect((await plainGet(s.url, {}, connections, 5000)).body)).toBe('x');
    const whileKept = freeSlabs();
    await until(() => s.closed === 1);
    expect(s.closed).toBe(1);
    await until(() => freeSlabs() > whileKept);
    expect(freeSlabs()).toBe(whileKept + 1);
  });
});
