import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatBytes,
  formatDuration,
  formatMs,
  formatRate,
  formatShare,
  fraction,
} from './view-format.js';

describe('status page formatting', () => {
  it('writes bytes in binary units with two digits under 10 and one above', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(2 * 1024 * 1024)).toBe('2.00 MiB');
    expect(formatBytes(12.34 * 1024 ** 3)).toBe('12.3 GiB');
    expect(formatRate(512 * 1024)).toBe('512.0 KiB/s');
    expect(formatRate(null)).toBe('—');
  });

  it('writes shares, times and durations', () => {
    expect(formatShare(1 / 3)).toBe('33.3%');
    expect(formatShare(1)).toBe('100%');
    expect(formatShare(0)).toBe('0%');
    expect(formatShare(null)).toBe('—');
    expect(formatMs(35.4)).toBe('35 ms');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatMs(null)).toBe('—');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
    expect(formatDuration(2 * 86_400_000)).toBe('2 d');
  });

  it('says when relative to now (the browser may be in another time zone than the server)', () => {
    const now = 1_700_000_000_000;
    expect(formatAgo(undefined, now)).toBe('never');
    expect(formatAgo(now - 1000, now)).toBe('just now');
    expect(formatAgo(now - 125_000, now)).toBe('2 min ago');
    expect(formatAgo(now + 30_000, now)).toBe('in 30 s');
  });

  it('keeps a bar between empty and full', () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(20, 10)).toBe(1);
    expect(fraction(1, 0)).toBe(0);
    expect(fraction(1, null)).toBe(0);
  });
});
