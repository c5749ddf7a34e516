import { describe, expect, it } from 'vitest';
import { ifRangeHolds, notModified, parseRange } from './http-range.js';

describe('parseRange', () => {
  it('parses the single-range forms', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=500-', 1000)).toEqual({ start: 500, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=900-5000', 1000)).toEqual({ start: 900, end: 999 });
  });
  it('ignores what it cannot honour and refuses what cannot be satisfied', () => {
    expect(parseRange(undefined, 1000)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', 1000)).toBeUndefined();
    expect(parseRange('items=0-1', 1000)).toBeUndefined();
    expect(parseRange('bytes=9-3', 1000)).toBeUndefined();
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
  });
});

describe('conditional requests', () => {
  const mtimeMs = Date.parse('Tue, 01 Oct 2024 10:00:00 GMT');
  it('304s on a matching ETag or an unchanged date', () => {
    expect(notModified({ 'if-none-match': '"abc", "def"' }, '"def"', mtimeMs)).toBe(true);
    expect(notModified({ 'if-none-match': '"abc"' }, '"def"', mtimeMs)).toBe(false);
    expect(notModified({ 'if-modified-since': 'Tue, 01 Oct 2024 10:00:00 GMT' }, '"x"', mtimeMs)).toBe(true);
    expect(notModified({ 'if-modified-since': 'Tue, 01 Oct 2024 09:59:59 GMT' }, '"x"', mtimeMs)).toBe(false);
  });
  it('honours If-Range only for the current representation', () => {
    expect(ifRangeHolds('"def"', '"def"', undefined)).toBe(true);
    expect(ifRangeHolds('"abc"', '"def"', undefined)).toBe(false);
    expect(ifRangeHolds('Tue, 01 Oct 2024 10:00:00 GMT', '"x"', 'Tue, 01 Oct 2024 10:00:00 GMT')).toBe(true);
    expect(ifRangeHolds('Tue, 01 Oct 2024 11:00:00 GMT', '"x"', 'Tue, 01 Oct 2024 10:00:00 GMT')).toBe(false);
  });
});
