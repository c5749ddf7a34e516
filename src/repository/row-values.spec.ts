import { describe, expect, it } from 'vitest';
import { PerSource } from './distfile-records.js';
import { appendMany, appendShared, compact, filterShared, Lists, single } from './row-values.js';

const same = (a: string, b: string) => a === b;

describe('row values', () => {
  it('keeps one value without an array until there are two', () => {
    expect(appendMany(undefined, 'a')).toBe('a');
    expect(appendMany(appendMany('a', 'b'), 'c')).toEqual(['a', 'b', 'c']);
    expect([single([]), single(['a']), single(['a', 'b'])]).toEqual([undefined, 'a', ['a', 'b']]);
  });

  it('shares a value while all sources agree, one per source once one differs, and one again when they agree', () => {
    let shared = appendShared<string>(undefined, 0, 'u', same);
    shared = appendShared(shared, 1, 'u', same);
    expect(shared).toBe('u');
    shared = appendShared(shared, 2, 'v', same);
    expect(shared).toEqual(new PerSource(['u', 'u', 'v']));
    expect(filterShared(shared, [true, true, false])).toEqual(new PerSource(['u', 'u']));
    expect(filterShared(shared, [false, false, false])).toBeUndefined();
    expect(compact(new PerSource(['u', 'u']), same)).toBe('u');
    expect(compact(shared, same)).toEqual(new PerSource(['u', 'u', 'v']));
  });

  it('gives equal lists one array', () => {
    const lists = new Lists<string>();
    const first = ['a', 'b'];
    expect(lists.get(first)).toBe(first);
    expect(lists.get(['a', 'b'])).toBe(first);
    expect(lists.get(['a', 'c'])).toEqual(['a', 'c']);
    expect(lists.get(['a'])).toBe('a');
  });
});
