import { describe, expect, it } from 'vitest';
import { SLAB_BYTES } from '../common/slabs.js';
import { RecentBytes } from './recent-bytes.js';

function bytes(from: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (from + i) % 251;
  return out;
}

/** Appends `length` bytes at the end, as a writer would, and marks them written. */
function fill(recent: RecentBytes, from: number, length: number, holder?: object): Buffer[] {
  const copies = recent.append(from, [bytes(from, length)]);
  if (holder) recent.hold(holder, from, from + length);
  recent.advance(from + length);
  return copies;
}

describe('RecentBytes', () => {
  it('copies what is appended, so the caller may drop or reuse its buffers', () => {
    const recent = new RecentBytes(SLAB_BYTES);
    const chunk = bytes(0, 100);
    const copies = recent.append(0, [chunk, bytes(100, 100)]);
    chunk.fill(0);
    expect(Buffer.concat(copies).equals(bytes(0, 200))).toBe(true);
    recent.advance(200);
    expect(Buffer.concat(recent.slice(50, 150) as Buffer[]).equals(bytes(50, 100))).toBe(true);
    expect(recent.slice(50, 150)?.[0].buffer).not.toBe(chunk.buffer);
  });

  it('splits a chunk across slabs and reads across them', () => {
    const recent = new RecentBytes(4 * SLAB_BYTES);
    fill(recent, 0, SLAB_BYTES - 10);
    const copies = fill(recent, SLAB_BYTES - 10, 30);
    expect(copies.map((c) => c.length)).toEqual([10, 20]);
    const across = recent.slice(SLAB_BYTES - 20, SLAB_BYTES + 20) as Buffer[];
    expect(across.length).toBe(2);
    expect(Buffer.concat(across).equals(bytes(SLAB_BYTES - 20, 40))).toBe(true);
  });

  it('keeps only maxBytes behind what was written, and nothing it cannot vouch for', () => {
    const recent = new RecentBytes(150);
    for (let i = 0; i < 5; i++) fill(recent, i * 100, 100);
    expect(recent.slice(350, 500)).toBeDefined();
    expect(recent.slice(349, 500)).toBeUndefined();
    expect(recent.slice(450, 501)).toBeUndefined();
    recent.append(40, [bytes(40, 10)]); // a jump back drops everything before it
    recent.advance(50);
    expect(recent.slice(400, 450)).toBeUndefined();
    expect(Buffer.concat(recent.slice(40, 50) as Buffer[]).equals(bytes(40, 10))).toBe(true);
    recent.clear(50);
    expect(recent.slice(40, 50)).toBeUndefined();
  });

  it('reuses the slabs behind the window, but never one whose bytes someone still holds', () => {
    const recent = new RecentBytes(SLAB_BYTES);
    const stuck = {};
    // A client holds views of the first slab and stops reading; the fill goes on far past it.
    const held = fill(recent, 0, SLAB_BYTES, stuck);
    const used = new Set<ArrayBufferLike>();
    for (let i = 1; i < 16; i++) for (const c of fill(recent, i * SLAB_BYTES, SLAB_BYTES)) used.add(c.buffer);
    expect(held[0].equals(bytes(0, SLAB_BYTES))).toBe(true);
    expect(used.has(held[0].buffer)).toBe(false);
    expect(used.size).toBeLessThan(5); // the other slabs went round instead of piling up

    // Released, the client's slab goes back to the pool and is the next one taken.
    recent.release(stuck);
    expect(fill(new RecentBytes(SLAB_BYTES), 0, 10)[0].buffer).toBe(held[0].buffer);
  });

  it('gives the slabs of cleared bytes back only when no holder is left', () => {
    const recent = new RecentBytes(SLAB_BYTES);
    const reader = {};
    const held = fill(recent, 0, 1000, reader);
    recent.clear(1000);
    const next = new RecentBytes(SLAB_BYTES);
    const taken = fill(next, 0, 10)[0].buffer;
    expect(taken).not.toBe(held[0].buffer);
    expect(held[0].equals(bytes(0, 1000))).toBe(true);
    recent.release(reader);
    const after = new RecentBytes(SLAB_BYTES);
    expect(fill(after, 0, 10)[0].buffer).toBe(held[0].buffer);
  });
});
