import { describe, expect, it } from 'vitest';
import { pendingLimit } from './partial-file-sink.js';

const MiB = 1024 * 1024;

describe('pendingLimit', () => {
  it('gives a fill that runs alone room for the next big write, and many fills a small share', () => {
    expect(pendingLimit(1)).toBe(4 * MiB);
    expect(pendingLimit(2)).toBe(2 * MiB);
    expect(pendingLimit(3)).toBe(MiB / 2);
    expect(pendingLimit(40)).toBe(MiB / 2);
  });
});
