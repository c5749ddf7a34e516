import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferPool } from '../cache/buffer-pool.js';
import type { FileSource } from '../cache/file-source.js';
import { OpenFiles } from '../cache/open-files.js';
import { sendBody } from './send-body.js';

const BODY = randomBytes(300_000);

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
      sendBody(res, files.acquire(join(dir, 'file')), 0, BODY.length, pool);
    });
    expect(whole.complete).toBe(true);
    expect(whole.body.equals(BODY)).toBe(true);
    const part = await fetchFrom((res) => {
      res.writeHead(206, ['content-length', '100000']);
      sendBody(res, files.acquire(join(dir, 'file')), 1000, 101_000, pool);
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
      sendBody(res, failing, 0, BODY.length, pool);
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
      sendBody(res, endless, 0, 1e12, pool);
    }, 1_000_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(1);
  });
});
