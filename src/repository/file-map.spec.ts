import { describe, expect, it } from 'vitest';
import { fileMapOf } from './testing/file-maps.js';

const owners = { repo: 'gentoo', category: 'app-misc', path: 'app-misc/a' };

describe('FileMap', () => {
  it('holds only its live rows below its count: later rows and emptied rows are not its names', () => {
    const files = fileMapOf({ name: 'live', owners, dists: 1 }, { name: 'gone' }, { name: 'also', owners });
    expect([...files.names()]).toEqual(['live', 'also']);
    expect(files.size).toBe(2);
    expect([files.has('live'), files.has('gone'), files.has('nowhere')]).toEqual([true, false, false]);
    files.table.rowOf('added-by-a-later-refresh');
    expect(files.has('added-by-a-later-refresh')).toBe(false);
  });

  it('moves to a new table without the rows of names gone once they outnumber the live ones', () => {
    const dead = Array.from({ length: 10 }, (_, i) => ({ name: `dead-${i}` }));
    const files = fileMapOf(...dead, { name: 'kept', owners, dists: 7 }, { name: 'too', owners, uris: 'u' });
    expect(files.withoutDeadRows(100)).toBe(files);
    const compacted = files.withoutDeadRows(4);
    expect(compacted.table).not.toBe(files.table);
    expect(compacted.table.count).toBe(2);
    expect([...compacted.names()]).toEqual(['kept', 'too']);
    expect(compacted.columns.dists[compacted.rowOf('kept')]).toBe(7);
    expect(compacted.columns.uris[compacted.rowOf('too')]).toBe('u');
    expect(files.rowOf('kept')).toBe(10);
  });
});
