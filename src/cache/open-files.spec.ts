import { readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSource } from './file-source.js';
import { OpenFiles } from './open-files.js';

const openFds = () => readdirSync('/proc/self/fd').length;

function readAll(source: FileSource, size: number): Buffer {
  let out: Buffer | undefined;
  source.read(0, size, Buffer.alloc(size), (error, chunks) => {
    if (error) throw error;
    out = Buffer.concat(chunks);
  });
  return out as Buffer;
}

describe('OpenFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcache-open-files-'));
    for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, name), `content of ${name}`);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads through one descriptor per file, kept open between uses', () => {
    const files = new OpenFiles(10);
    const before = openFds();
    const first = files.acquire(join(dir, 'a'));
    expect(readAll(first, 12).toString()).toBe('content of a');
    first.close();
    const again = files.acquire(join(dir, 'a'));
    expect(again).toBe(first);
    again.close();
    expect(openFds()).toBe(before + 1);
    files.clear();
    expect(openFds()).toBe(before);
  });

  it('closes the least recently used descriptor beyond max, but not while it is read', () => {
    const files = new OpenFiles(2);
    const before = openFds();
    const a = files.acquire(join(dir, 'a'));
    files.acquire(join(dir, 'b')).close();
    files.acquire(join(dir, 'c')).close();
    expect(files.size).toBe(2);
    expect(openFds()).toBe(before + 3);
    expect(readAll(a, 12).toString()).toBe('content of a');
    a.close();
    expect(openFds()).toBe(before + 2);
  });

  it('serves the new file after forget() of a replaced one', async () => {
    const files = new OpenFiles(10);
    const path = join(dir, 'a');
    files.acquire(path).close();
    writeFileSync(join(dir, 'new'), 'replacement!');
    await rename(join(dir, 'new'), path);
    files.forget(path);
    const fresh = files.acquire(path);
    expect(readAll(fresh, 12).toString()).toBe('replacement!');
    fresh.close();
  });

  it('throws what open() throws for a missing file', () => {
    expect(() => new OpenFiles(10).acquire(join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});
