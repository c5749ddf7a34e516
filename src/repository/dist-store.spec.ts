import { describe, expect, it } from 'vitest';
import { DistStore } from './dist-store.js';
import { PerSource } from './distfile-records.js';
import { withCompactDists } from './file-map-dists.js';
import { fileMapOf } from './testing/file-maps.js';

const bytes = (c: string) => Buffer.alloc(64, c);
const hex = (c: string) => bytes(c).toString('hex');

describe('DistStore', () => {
  it('gives back size and digests as written, sizes past 4 GiB included', () => {
    const store = new DistStore();
    const both = store.add(6 * 2 ** 32 + 5, bytes('a'), bytes('b'));
    const sha = store.add(7, undefined, bytes('c'));
    const none = store.add(0, undefined, undefined);
    expect(store.unpack(both)).toEqual({ size: 6 * 2 ** 32 + 5, BLAKE2B: hex('a'), SHA512: hex('b') });
    expect(store.unpack(sha)).toEqual({ size: 7, SHA512: hex('c') });
    expect(store.unpack(none)).toEqual({ size: 0 });
  });

  it('tells equal values apart from different ones, across slabs', () => {
    const store = new DistStore();
    const first = store.add(10, bytes('a'), bytes('b'));
    let last = first;
    // Past one slab of 1 MiB.
    for (let i = 0; i < 8000; i++) last = store.add(10, bytes('a'), bytes('b'));
    expect(Math.floor(last / 2 ** 20)).toBeGreaterThan(0);
    expect(store.same(first, last)).toBe(true);
    expect(store.key(first)).toBe(store.key(last));
    const other = store.add(10, bytes('a'), undefined);
    expect(store.same(first, other)).toBe(false);
    expect(store.same(first, store.add(11, bytes('a'), bytes('b')))).toBe(false);
    expect(store.same(first, store.add(10, bytes('a'), bytes('c')))).toBe(false);
  });

  it('takes back only the value added last', () => {
    const store = new DistStore();
    const a = store.add(1, bytes('a'), undefined);
    const b = store.add(2, bytes('b'), undefined);
    const size = store.size;
    store.release(a);
    expect(store.size).toBe(size);
    store.release(b);
    expect(store.size).toBeLessThan(size);
    const c = store.add(3, bytes('c'), undefined);
    expect(c).toBe(b);
    expect(store.unpack(a)).toEqual({ size: 1, BLAKE2B: hex('a') });
    expect(store.unpack(c)).toEqual({ size: 3, BLAKE2B: hex('c') });
  });
});

describe('DistStore memory', () => {
  it('takes its slabs from the memory it is given, else allocates them', () => {
    const slab = Buffer.alloc(1 << 20);
    const given = [slab];
    const asked: number[] = [];
    const store = new DistStore((size) => {
      asked.push(size);
      return given.shift();
    });
    const first = store.add(1, bytes('a'), bytes('b'));
    for (let i = 0; i < 8000; i++) store.add(2, bytes('c'), bytes('d'));
    expect(asked).toEqual([1 << 20, 1 << 20]);
    expect(store.unpack(first)).toEqual({ size: 1, BLAKE2B: hex('a'), SHA512: hex('b') });
    expect(store.bytesOf(first)).toBe(137);
    expect([slab[0], slab.readDoubleLE(1), slab[9]]).toEqual([3, 1, 0x61]); // flags, size, BLAKE2B
  });
});

describe('withCompactDists', () => {
  it('keeps the map while most of the store is used', () => {
    const store = new DistStore();
    const files = fileMapOf({ name: 'a', owners: [], dists: store.add(1, bytes('a'), undefined) });
    expect(withCompactDists(files, store)).toEqual({ files, store });
  });

  it('copies the used values into a new store once most are not, leaving the old map alone', () => {
    const store = new DistStore();
    const kept = store.add(1, bytes('a'), bytes('b'));
    const other = store.add(2, undefined, bytes('c'));
    for (let i = 0; i < 20_000; i++) store.add(3, bytes('x'), bytes('y'));
    const two = new PerSource([kept, other]);
    const files = fileMapOf(
      { name: 'one', owners: [], dists: kept },
      { name: 'two', owners: [], dists: two },
    );
    const result = withCompactDists(files, store);
    expect(result.store).not.toBe(store);
    expect(result.store.size).toBeLessThan(1000);
    const copied = result.files.columns.dists[result.files.rowOf('two')] as PerSource<number>;
    expect(copied).not.toBe(two);
    expect(copied.values.map((h) => result.store.unpack(h))).toEqual([
      store.unpack(kept),
      store.unpack(other),
    ]);
    expect(files.columns.dists[files.rowOf('one')]).toBe(kept);
    expect(store.unpack(kept)).toEqual({ size: 1, BLAKE2B: hex('a'), SHA512: hex('b') });
  });
});
