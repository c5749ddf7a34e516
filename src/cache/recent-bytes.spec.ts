import { describe, expect, it } from 'vitest';
import { RecentBytes } from './recent-bytes.js';

const bytes = (from: number, length: number) =>
  Buffer.from(Array.from({ length }, (_, i) => (from + i) % 256));

describe('RecentBytes', () => {
  it('gives back the held bytes as views of the appended chunks', () => {
    const recent = new RecentBytes(1000, 10);
    const a = bytes(0, 100);
    const b = bytes(100, 100);
    recent.append(0, [a, b]);
    const slice = recent.slice(50, 150) as Buffer[];
    expect(Buffer.concat(slice).equals(bytes(50, 100))).toBe(true);
    expect(slice[0].buffer).toBe(a.buffer);
    expect(recent.slice(0, 200)?.map((c) => c.length)).toEqual([100, 100]);
  });

  it('keeps only about maxBytes behind the end, and at most maxChunks', () => {
    const recent = new RecentBytes(150, 10);
    for (let i = 0; i < 5; i++) recent.append(i * 100, [bytes(i * 100, 100)]);
    expect(recent.slice(300, 500)).toBeDefined();
    expect(recent.slice(299, 500)).toBeUndefined();
    const few = new RecentBytes(1e6, 2);
    few.append(0, [bytes(0, 10), bytes(10, 10), bytes(20, 10)]);
    expect(few.slice(10, 30)).toBeDefined();
    expect(few.slice(0, 30)).toBeUndefined();
  });

  it('holds nothing it cannot vouch for: bytes not appended yet, or before a jump', () => {
    const recent = new RecentBytes(1000, 10);
    recent.append(0, [bytes(0, 100)]);
    expect(recent.slice(50, 101)).toBeUndefined();
    recent.append(40, [bytes(40, 10)]);
    expect(recent.slice(0, 40)).toBeUndefined();
    expect(Buffer.concat(recent.slice(40, 50) as Buffer[]).equals(bytes(40, 10))).toBe(true);
    recent.clear(50);
    expect(recent.slice(40, 50)).toBeUndefined();
  });
});
