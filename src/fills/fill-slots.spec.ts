import { afterEach, describe, expect, it, vi } from 'vitest';
import { FillSlots, RetryLater } from './fill-slots.js';

describe('FillSlots', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grants up to its cap at once and hands a released slot to the first waiter', async () => {
    const slots = new FillSlots(2, { maxQueue: 4, waitMs: 1000 });
    const first = await slots.acquire();
    await slots.acquire();
    const order: string[] = [];
    const third = slots.acquire().then((release) => {
      order.push('third');
      return release;
    });
    const fourth = slots.acquire().then(() => order.push('fourth'));
    await Promise.resolve();
    expect(order).toEqual([]);
    first();
    first(); // a second call of the same release frees nothing more
    (await third)();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
  });

  it('refuses with RetryLater when the queue is full, and when the wait runs out', async () => {
    vi.useFakeTimers();
    const slots = new FillSlots(1, { maxQueue: 1, waitMs: 2500 });
    await slots.acquire();
    const queued = slots.acquire();
    queued.catch(() => undefined);
    await expect(slots.acquire()).rejects.toMatchObject({ retryAfterSeconds: 3 });
    await vi.advanceTimersByTimeAsync(2500);
    const error = await queued.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLater);
    expect((error as RetryLater).message).toContain('within 2500 ms');
  });

  it('lets wait() queue without bounds, and acquire() only with them', async () => {
    vi.useFakeTimers();
    const settling = new FillSlots(1);
    expect(() => settling.acquire()).toThrow(/use wait\(\)/);
    const release = await settling.wait();
    const waiters = Array.from({ length: 50 }, () => settling.wait());
    await vi.advanceTimersByTimeAsync(60_000);
    let granted = 0;
    for (const waiter of waiters) void waiter.then(() => granted++);
    await Promise.resolve();
    expect(granted).toBe(0);
    release();
    (await waiters[0])();
    expect(granted).toBeGreaterThanOrEqual(1);
  });
});
