import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistStore } from './dist-store.js';
import { forEachPackedDist, parseManifest } from './manifest.js';
import { packMd5CacheEntry } from './md5-cache-pack.js';
import { readPackedMd5Cache } from './md5-cache-read.js';
import { NodeRepositoryReader } from './repository-reader.js';

describe('NodeRepositoryReader', () => {
  let root: string;
  const reader = new NodeRepositoryReader();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'portcache-reader-'));
    await writeFile(join(root, 'a'), 'first');
    await writeFile(join(root, 'empty'), '');
    await writeFile(join(root, 'b'), 'second file');
    await mkdir(join(root, 'dir'));
  });

  afterAll(async () => {
    await reader.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reads a batch on its thread: contents, ctime, missing and failing files in their slots', async () => {
    const paths = ['a', 'missing', 'empty', 'dir', 'b', 'a/not-a-dir'].map((name) => join(root, name));
    const results = await reader.readFiles(paths);
    expect(results.map((result) => (result instanceof Error ? 'error' : result?.data.toString()))).toEqual([
      'first',
      undefined,
      '',
      'error',
      'second file',
      undefined,
    ]);
    expect(results[3]).toMatchObject({ message: expect.stringContaining('EISDIR') });
    const [ctime] = await reader.stat([paths[0]]);
    expect(results[0]).toMatchObject({ ctimeMs: ctime });
    expect(await reader.stat([paths[1], paths[3]])).toEqual([undefined, expect.any(Number)]);
  });

  it('lists directories and starts a new thread after close()', async () => {
    expect((await reader.readdir(root))?.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'a', isDirectory: false },
      { name: 'b', isDirectory: false },
      { name: 'dir', isDirectory: true },
      { name: 'empty', isDirectory: false },
    ]);
    expect(await reader.readdir(join(root, 'missing'))).toBeUndefined();
    await reader.close();
    const [read] = await reader.readFiles([join(root, 'b')]);
    expect(read instanceof Error ? read : read?.data.toString()).toBe('second file');
  });

  it('lends each batch until the next turn: more batches at once than buffers, files bigger than one', async () => {
    const big = join(root, 'big');
    await writeFile(big, Buffer.alloc(3 << 20, 'x'));
    const batches = await Promise.all(
      Array.from({ length: 10 }, () =>
        reader
          .readFiles([join(root, 'a'), big])
          .then((reads) =>
            reads.map((read) => (read instanceof Error ? read : read?.data.toString('latin1'))),
          ),
      ),
    );
    expect(batches).toEqual(Array.from({ length: 10 }, () => ['first', 'x'.repeat(3 << 20)]));
    const [read] = await reader.readFiles([join(root, 'b')]);
    await new Promise((resolve) => setImmediate(resolve));
    // Back at the worker: kept too long, the bytes are gone rather than another file's.
    expect(read instanceof Error ? read : read?.data.length).toBe(0);
  });

  it('packs Manifests on its thread as parseManifest reads them, growing its buffer when packing grows a file', async () => {
    const manifest = readFileSync('test/fixtures/repos/gentoo/app-arch/xz-utils/Manifest');
    // 450 kB of text that packs into 600 kB: past the thread's first 512 KiB buffer.
    const grows = 'DIST x 0\n'.repeat(50_000);
    await writeFile(join(root, 'Manifest'), manifest);
    await writeFile(join(root, 'grows'), grows);
    // A thread of its own: the shared one keeps the big buffers of the tests before.
    const fresh = new NodeRepositoryReader();
    const reads = await fresh.readFiles(
      [join(root, 'Manifest'), join(root, 'missing'), join(root, 'grows')],
      'dists',
    );
    await fresh.close();
    const unpacked = reads.map((read) => {
      if (read === undefined || read instanceof Error) return read;
      const store = new DistStore();
      const dists: unknown[] = [];
      forEachPackedDist(read.data, store, (bytes, start, length, dist) =>
        dists.push({ name: bytes.toString('utf8', start, start + length), ...store.unpack(dist) }),
      );
      return dists;
    });
    expect(unpacked).toEqual([parseManifest(manifest), undefined, parseManifest(grows)]);
    expect(unpacked[0]).toHaveLength(2);
    expect(unpacked[2]).toHaveLength(50_000);
  });

  it('packs md5-cache entries on its thread as packMd5CacheEntry does, growing its buffers', async () => {
    const entry = readFileSync('test/fixtures/repos/guru/metadata/md5-cache/games-util/xone-0.5.8');
    // 20k crates: a table of 440 kB, past the thread's first 64 KiB for one.
    const crates = Array.from({ length: 20_000 }, (_, i) => `https://c.io/${i}/download -> c-${i}.crate`);
    const big = Buffer.from(`EAPI=8\nRESTRICT=test? ( fetch\nSRC_URI=${crates.join(' ')}\n`);
    const broken = Buffer.from('SRC_URI=https://e.org/a.gz )\n');
    const files = { entry, missing: undefined, big, broken, none: Buffer.from('EAPI=8\n') };
    for (const [name, data] of Object.entries(files)) if (data) await writeFile(join(root, name), data);
    const fresh = new NodeRepositoryReader();
    const reads = await fresh.readFiles(
      Object.keys(files).map((name) => join(root, name)),
      'md5-cache',
    );
    // Compared as bytes: toEqual walks a Buffer element by element (seconds for these).
    const same = reads.map((read, i) => {
      const data = Object.values(files)[i];
      if (read === undefined || read instanceof Error || data === undefined) return read === data;
      return read.data.equals(packMd5CacheEntry(data));
    });
    const packed = reads.map((read) =>
      read instanceof Error || read === undefined ? read : Buffer.from(read.data),
    );
    await fresh.close();
    expect(same).toEqual([true, true, true, true, true]);
    expect(readPackedMd5Cache(packed[2] as Buffer)).toMatchObject({ restrictError: /missing '\)'/ });
  });

  it('keeps memory its thread made resident for takeMemory(), two pieces ahead', async () => {
    const fresh = new NodeRepositoryReader();
    expect(fresh.takeMemory(1 << 20)).toBeUndefined();
    await fresh.stat([root]); // replies come in order: the two pieces are touched by now
    const first = fresh.takeMemory(1 << 20);
    const second = fresh.takeMemory(1 << 20);
    expect([first?.length, second?.length]).toEqual([1 << 20, 1 << 20]);
    expect(first?.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(first?.buffer).not.toBe(second?.buffer);
    await fresh.close();
    expect(fresh.takeMemory(1 << 20)).toBeUndefined();
    await fresh.close();
  });
});
