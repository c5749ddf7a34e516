import { describe, expect, it } from 'vitest';
import { NameTable } from './name-table.js';

describe('NameTable', () => {
  it('gives each name one row, from a string or from its UTF-8 bytes alike', () => {
    const table = new NameTable();
    const a = table.rowOf('a-1.0.tar.gz');
    const packed = Buffer.from('xx\u00e9t\u00e9-2.tar.xz--');
    const utf8 = table.rowOfBytes(packed, 2, packed.length - 4);
    expect([a, utf8]).toEqual([0, 1]);
    expect(table.rowOf('a-1.0.tar.gz')).toBe(a);
    expect(table.rowOfBytes(Buffer.from('a-1.0.tar.gz'), 0, 12)).toBe(a);
    expect(table.find('\u00e9t\u00e9-2.tar.xz')).toBe(utf8);
    expect(table.nameOf(utf8)).toBe('\u00e9t\u00e9-2.tar.xz');
    expect(table.find('a-1.0.tar')).toBe(-1);
    expect(table.find('')).toBe(-1);
    expect(table.rowOf('')).toBe(2);
    expect(table.count).toBe(3);
  });

  it('finds every name again after growing its arena, rows and slots many times', () => {
    const table = new NameTable();
    const names = Array.from({ length: 50_000 }, (_, i) => `pkg-${i}.tar.${i % 3 ? 'gz' : 'xz'}`);
    expect(names.every((name, i) => table.rowOf(name) === i)).toBe(true);
    expect(names.every((name, i) => table.find(name) === i && table.nameOf(i) === name)).toBe(true);
    expect(table.find('pkg-50000.tar.gz')).toBe(-1);
  });
});
