import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeDiskIo } from './disk-io.js';
import type { FileSource } from './file-source.js';
import { HashThreads } from './hash-threads.js';
import { PartialFile } from './partial-file.js';

const MiB = 1024 * 1024;
const hashes = new HashThreads(2);
afterAll(() => hashes.close());

async function partialAt(name: string, path: string, stallMs: number): Promise<PartialFile> {
  return new PartialFile(name, path, await open(path, 'wx+'), new NodeDiskIo(), stallMs, hashes.open(path));
}

function read(source: FileSource, position: number, end: number, buffer = Buffer.alloc(64 * 1024)) {
  return new Promise<readonly Buffer[]>((resolve, reject) =>
    source.read(position, end, buffer, (error, chunks) => (error ? reject(error) : resolve(chunks))),
  );
}

describe('PartialFile readers', () => {
  let dir: string;
  let partial: PartialFile;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcache-partial-'));
    const path = join(dir, 'x.part');
    partial = await partialAt('x.tar.gz', path, 200);
  });
  afterEach(async () => {
    await partial.handle.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out the newest bytes from memory and older ones from the file', async () => {
    const chunks = [randomBytes(MiB), randomBytes(MiB), randomBytes(1000)];
    for (const chunk of chunks) await partial.append([chunk]);
    const reader = partial.openReader();
    const readBuffer = Buffer.alloc(64 * 1024);
    const recent = await read(reader, 2 * MiB - 500, 2 * MiB + 1000, readBuffer);
    expect(recent.every((chunk) => chunk.buffer !== readBuffer.buffer)).toBe(true); // from memory
    expect(Buffer.concat(recent).equals(Buffer.concat([chunks[1].subarray(-500), chunks[2]]))).toBe(true);
    const old = await read(reader, 0, 2 * MiB, readBuffer);
    expect(old).toHaveLength(1);
    expect(old[0].buffer).toBe(readBuffer.buffer); // read from the file
    expect(old[0].equals(chunks[0].subarray(0, 64 * 1024))).toBe(true);
    reader.close();
  });

  it('keeps the bytes a reader was handed intact while memory goes round between fills', async () => {
    const path = join(dir, 'z.part');
    const other = await partialAt('z.tar.gz', path, 2000);
    const fills = [
      { file: partial, source: randomBytes(6 * MiB) },
      { file: other, source: randomBytes(6 * MiB) },
    ];
    // Each reader checks what it was handed only after a pause, as a socket sends it later.
    const readAll = async ({ file, source }: (typeof fills)[number], pauseMs: number) => {
      const reader = file.openReader();
      for (let position = 0; position < source.length; ) {
        const chunks = await read(reader, position, source.length);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        for (const chunk of chunks) {
          expect(chunk.equals(source.subarray(position, position + chunk.length))).toBe(true);
          position += chunk.length;
        }
      }
      reader.close();
    };
    const readers = fills.flatMap((fill) => [readAll(fill, 0), readAll(fill, 2), readAll(fill, 5)]);
    for (let at = 0; at < 6 * MiB; at += 256 * 1024) {
      for (const { file, source } of fills) await file.append([source.subarray(at, at + 256 * 1024)]);
    }
    for (const { file } of fills) file.end();
    await Promise.all(readers);
    await other.handle.close();
  });

  it('lets go of its bytes in memory once the fill has ended: readers take the tail from the file', async () => {
    const chunks = [randomBytes(MiB), randomBytes(1000)];
    for (const chunk of chunks) await partial.append([chunk]);
    const reader = partial.openReader();
    expect(partial.recentBytes(reader, MiB - 100, MiB + 1000)).toBeDefined();
    partial.releaseRecent(reader);
    const digests = partial.end(); // the fill now waits for its hash and commit
    expect(partial.recentBytes(reader, MiB - 100, MiB + 1000)).toBeUndefined();
    const readBuffer = Buffer.alloc(64 * 1024);
    const tail = await read(reader, MiB - 100, MiB + 1000, readBuffer);
    expect(tail[0].buffer).toBe(readBuffer.buffer); // read from the file
    expect(Buffer.concat(tail).equals(Buffer.concat(chunks).subarray(MiB - 100))).toBe(true);
    expect(await read(reader, MiB + 1000, MiB + 1000)).toEqual([]);
    expect((await digests).size).toBe(MiB + 1000);
    reader.close();
  });

  it('waits for bytes not written yet, and ends with none once the fill has ended', async () => {
    const reader = partial.openReader();
    const waiting = read(reader, 0, Number.POSITIVE_INFINITY);
    const body = randomBytes(100);
    await partial.append([body]);
    expect(Buffer.concat(await waiting).equals(body)).toBe(true);
    const end = read(reader, 100, Number.POSITIVE_INFINITY);
    partial.end();
    expect(await end).toEqual([]);
    reader.close();
  });

  it('fails a waiting reader when the fill fails, stalls or restarts with other bytes', async () => {
    const failing = read(partial.openReader(), 0, 10);
    partial.fail(new Error('mirror gone'));
    await expect(failing).rejects.toThrow('mirror gone');

    const path = join(dir, 'y.part');
    const other = await partialAt('y.tar.gz', path, 50);
    await expect(read(other.openReader(), 0, 10)).rejects.toThrow(/no bytes from upstream for 50 ms/);
    await other.append([randomBytes(10)]);
    const reader = other.openReader();
    await other.restartFrom(5);
    await expect(read(reader, 0, 10)).rejects.toThrow(/changed during the fill/);
    await other.handle.close();
  });

  it('holds back the last byte of every response of a verifiable fill until it has passed its check', async () => {
    partial.holdBackLastByte = true;
    partial.expectedSize = 1000;
    const body = randomBytes(1000);
    await partial.append([body]);
    partial.end();
    const bytes = (chunks: readonly Buffer[]) => chunks.reduce((n, chunk) => n + chunk.length, 0);
    // Whole file, a range ending mid-file, a suffix: each stops one byte short of its own end.
    const shapes = [
      [0, 1000],
      [100, 600],
      [990, 1000],
    ].map(([from, end]) => ({ from, end, reader: partial.openReader() }));
    const lasts = [];
    for (const { from, end, reader } of shapes) {
      expect(bytes(await read(reader, from, end)), `${from}-${end}`).toBe(end - 1 - from);
      lasts.push(read(reader, end - 1, end));
    }
    let settled = 0;
    for (const last of lasts) void last.then(() => settled++);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled, 'a response ended before the check').toBe(0);
    partial.markVerified(); // the commit (fsyncs, rename) follows
    for (const [i, { end, reader }] of shapes.entries()) {
      expect(Buffer.concat(await lasts[i]).equals(body.subarray(end - 1, end))).toBe(true);
      reader.close();
    }
  });

  it('never hands out the newest byte of a held-back fill whose length is unknown', async () => {
    partial.holdBackLastByte = true;
    await partial.append([randomBytes(10)]);
    expect(partial.sendableUntil(Number.POSITIVE_INFINITY)).toBe(9);
    partial.stopHoldingBack();
    expect(partial.sendableUntil(Number.POSITIVE_INFINITY)).toBe(10);
  });
});
