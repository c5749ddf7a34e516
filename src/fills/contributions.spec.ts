import { describe, expect, it } from 'vitest';
import { Contributions } from './contributions.js';

describe('Contributions', () => {
  it('records each source’s range in file order', () => {
    const c = new Contributions();
    c.start('a', 0);
    c.reach(40);
    c.start('b', 40);
    c.reach(100);
    expect(c.ranges()).toEqual([
      { source: 'a', from: 0, to: 40 },
      { source: 'b', from: 40, to: 100 },
    ]);
    expect(c.sources()).toEqual(['a', 'b']);
  });

  it('forgets bytes thrown away, and sources that wrote nothing', () => {
    const c = new Contributions();
    c.start('a', 0);
    c.reach(40);
    c.start('b', 40);
    c.reach(100);
    c.start('c', 30); // c re-sent from 0 and differed at 30
    c.reach(100);
    expect(c.ranges()).toEqual([
      { source: 'a', from: 0, to: 30 },
      { source: 'c', from: 30, to: 100 },
    ]);
    c.truncate(0);
    c.start('d', 0);
    expect(c.sources()).toEqual([]);
  });
});
