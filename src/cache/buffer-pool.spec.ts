import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('gives small bodies a small buffer and big ones a large buffer, and reuses both', () => {
    const pool = new BufferPool(1024, 8192, 2, 4);
    const small = pool.take(1000);
    const large = pool.take(100_000);
    expect(small.length).toBe(1024);
    expect(large.length).toBe(8192);
    pool.give(small);
    pool.give(large);
    expect(pool.take(10)).toBe(small);
    expect(pool.take(9000)).toBe(large);
  });

  it('hands out at most maxLarge large buffers at a time, then small ones', () => {
    const pool = new BufferPool(1024, 8192, 2, 4);
    const taken = [pool.take(1e6), pool.take(1e6), pool.take(1e6)];
    expect(taken.map((b) => b.length)).toEqual([8192, 8192, 1024]);
    pool.give(taken[0]);
    expect(pool.take(1e6)).toBe(taken[0]);
  });

  it('keeps at most maxFreeSmall small buffers for reuse', () => {
    const pool = new BufferPool(1024, 8192, 2, 1);
    const [a, b] = [pool.take(1), pool.take(1)];
    pool.give(a);
    pool.give(b);
    expect(pool.take(1)).toBe(a);
    expect(pool.take(1)).not.toBe(b);
  });
});
