import { describe, expect, it } from 'vitest';
import { ImportTally, MAX_LISTED } from './import-tally.js';

describe('ImportTally', () => {
  it('counts each outcome, bytes imported, unverified imports and skips by reason', () => {
    const tally = new ImportTally();
    tally.add({ name: 'a', outcome: 'imported', size: 10, verified: true });
    tally.add({ name: 'b', outcome: 'imported', size: 5, verified: false });
    tally.add({ name: 'c', outcome: 'already-cached', size: 7 });
    tally.add({ name: 'd', outcome: 'mismatched', size: 3, reason: 'd: BLAKE2B does not match' });
    tally.add({ name: '.keep', outcome: 'skipped', size: 0, reason: 'dotfile' });
    tally.add({ name: '.locks', outcome: 'skipped', size: 0, reason: 'dotfile' });
    tally.add({ name: 'e', outcome: 'failed', size: 1, reason: 'EIO' });
    expect(tally.result(1234.4)).toEqual({
      entries: 7,
      imported: 2,
      importedUnverified: 1,
      importedBytes: 15,
      alreadyCached: 1,
      mismatched: 1,
      skipped: 2,
      failed: 1,
      skippedByReason: { dotfile: 2 },
      mismatchedFiles: [{ name: 'd', reason: 'd: BLAKE2B does not match' }],
      failedFiles: [{ name: 'e', reason: 'EIO' }],
      durationMs: 1234,
    });
  });

  it('lists at most MAX_LISTED names per outcome, counts all', () => {
    const tally = new ImportTally();
    for (let i = 0; i < MAX_LISTED + 5; i++)
      tally.add({ name: `f${i}`, outcome: 'failed', size: 0, reason: 'x' });
    const result = tally.result(0);
    expect(result.failed).toBe(MAX_LISTED + 5);
    expect(result.failedFiles).toHaveLength(MAX_LISTED);
  });
});
