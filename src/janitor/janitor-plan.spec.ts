import { describe, expect, it } from 'vitest';
import {
  EVICTION_REASONS,
  type JanitorFile,
  type JanitorInput,
  type JanitorLimits,
  type JanitorPlan,
  planJanitor,
} from './janitor-plan.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const BASE: JanitorLimits = { lowWatermark: 0.9, unreferencedMaxShare: 0.1 };
const NOT_USABLE = { usable: false, why: 'no repository indexed yet' } as const;

/** A file last requested `daysAgo` days ago; `markedDaysAgo` makes it unreferenced, marked that long ago. */
function file(
  name: string,
  size: number,
  daysAgo: number,
  opts: { referenced?: boolean; markedDaysAgo?: number } = {},
): JanitorFile {
  const marked = opts.markedDaysAgo;
  return {
    name,
    size,
    lastAccessMs: NOW - daysAgo * DAY,
    referenced: opts.referenced ?? marked === undefined,
    ...(marked === undefined ? {} : { unreferencedSinceMs: NOW - marked * DAY }),
  };
}

function plan(
  files: readonly JanitorFile[],
  limits: Partial<JanitorLimits>,
  rest: Partial<JanitorInput> = {},
): JanitorPlan {
  return planJanitor({ now: NOW, files, limits: { ...BASE, ...limits }, index: { usable: true }, ...rest });
}

const taken = (p: JanitorPlan) => p.evictions.map((e) => `${e.name}:${e.reason}`);
const names = (p: JanitorPlan) => p.evictions.map((e) => e.name);

/** Ten 100-byte referenced files, f0 the least recently used. */
const TEN = Array.from({ length: 10 }, (_, i) => file(`f${i}`, 100, 10 - i));

describe('planJanitor', () => {
  describe('with nothing to do', () => {
    it('gives an empty plan when no policy is set, whatever the cache', () => {
      const files = [file('old', 500, 1000, { markedDaysAgo: 900 }), ...TEN];
      const p = plan(files, {}, { disk: { totalBytes: 2000, freeBytes: 0 } });
      expect(p).toEqual({
        evictions: [],
        byReason: Object.fromEntries(EVICTION_REASONS.map((r) => [r, { files: 0, bytes: 0 }])),
        cacheFiles: 11,
        cacheBytes: 1500,
        bytesAfter: 1500,
        unreferencedCapped: false,
        notes: [],
      });
    });

    it('gives an empty plan for an empty cache under every policy', () => {
      const all = { maxSizeBytes: 0, maxAgeMs: 0, unreferencedGraceMs: 0, minFree: { bytes: 10 } };
      const p = plan([], all, { disk: { totalBytes: 1000, freeBytes: 500 } });
      expect(p.evictions).toEqual([]);
      expect([p.cacheFiles, p.cacheBytes, p.bytesAfter, p.unreferencedCapped]).toEqual([0, 0, 0, false]);
      expect(p.notes).toEqual([]);
    });
  });

  describe('age', () => {
    it('evicts files not requested for longer than maxAgeMs, least recently used first', () => {
      const files = [
        file('recent', 10, 10),
        file('c', 10, 31),
        file('exactly', 10, 30),
        file('a', 10, 40, { markedDaysAgo: 40 }),
        { ...file('b', 10, 30), lastAccessMs: NOW - 30 * DAY - 1 },
      ];
      const p = plan(files, { maxAgeMs: 30 * DAY });
      expect(taken(p)).toEqual(['a:age', 'c:age', 'b:age']);
      expect(p.byReason.age).toEqual({ files: 3, bytes: 30 });
      expect(p.bytesAfter).toBe(20);
    });
  });

  describe('unreferenced', () => {
    const limits = { unreferencedGraceMs: 30 * DAY, unreferencedMaxShare: 1 };

    it('removes files unreferenced and unrequested for the grace, oldest mark first, then LRU', () => {
      const files = [
        file('mark40', 10, 35, { markedDaysAgo: 40 }),
        file('mark50-recent', 10, 31, { markedDaysAgo: 50 }),
        file('mark50-old', 10, 45, { markedDaysAgo: 50 }),
        file('exactly-grace', 10, 30, { markedDaysAgo: 30 }),
        file('referenced', 10, 100),
      ];
      const p = plan(files, limits);
      expect(taken(p)).toEqual([
        'mark50-old:unreferenced',
        'mark50-recent:unreferenced',
        'mark40:unreferenced',
        'exactly-grace:unreferenced',
      ]);
      expect(p.byReason.unreferenced).toEqual({ files: 4, bytes: 40 });
      expect(p.notes).toEqual([]);
    });

    it('never removes a file requested within the grace period, however old its mark', () => {
      const files = [
        file('asked', 10, 29, { markedDaysAgo: 365 }),
        file('idle', 10, 31, { markedDaysAgo: 365 }),
      ];
      expect(names(plan(files, limits))).toEqual(['idle']);
    });

    it('keeps referenced files, unmarked files and files marked less than the grace ago', () => {
      const files = [
        { ...file('referenced', 10, 100), unreferencedSinceMs: NOW - 100 * DAY },
        file('unmarked', 10, 100, { referenced: false }),
        file('marked-29d', 10, 100, { markedDaysAgo: 29 }),
      ];
      expect(plan(files, limits).evictions).toEqual([]);
    });

    it('is off, without a note, when unreferencedGraceMs is undefined', () => {
      const p = plan(
        [file('u', 10, 100, { markedDaysAgo: 100 })],
        { unreferencedMaxShare: 1 },
        {
          index: NOT_USABLE,
        },
      );
      expect(p.evictions).toEqual([]);
      expect(p.notes).toEqual([]);
    });

    it('is skipped, with a note saying why, when the index is not usable', () => {
      const p = plan([file('u', 10, 100, { markedDaysAgo: 100 })], limits, { index: NOT_USABLE });
      expect(p.evictions).toEqual([]);
      expect(p.notes).toEqual(['unreferenced policy skipped: no repository indexed yet']);
    });
  });

  describe('unreferenced cap', () => {
    const limits = { unreferencedGraceMs: 30 * DAY, unreferencedMaxShare: 0.1 };
    // Referenced ballast, so that each cache holds round bytes.
    const bulk = (size: number) => file('bulk', size, 1);

    it('stops before the share of the cache would be exceeded, strictly in order, and says what is left', () => {
      const files = [
        bulk(875), // 1000 bytes: the cap is 100
        file('a', 50, 90, { markedDaysAgo: 90 }),
        file('b', 40, 80, { markedDaysAgo: 80 }),
        file('c', 30, 70, { markedDaysAgo: 70 }),
        file('d', 5, 60, { markedDaysAgo: 60 }), // would fit, but c goes first next run
      ];
      const p = plan(files, limits);
      expect(taken(p)).toEqual(['a:unreferenced', 'b:unreferenced']);
      expect(p.unreferencedCapped).toBe(true);
      expect(p.notes).toEqual([
        'unreferenced policy capped at 10 % of the cache, 100 B: removing 2 files (90 B), ' +
          '2 files (35 B) left for the next run',
      ]);
    });

    it('takes exactly up to the cap, and is not capped when all that is due fits', () => {
      const files = [
        bulk(900),
        file('a', 60, 90, { markedDaysAgo: 90 }),
        file('b', 40, 80, { markedDaysAgo: 80 }),
      ];
      const p = plan(files, limits);
      expect(names(p)).toEqual(['a', 'b']);
      expect(p.unreferencedCapped).toBe(false);
      expect(p.notes).toEqual([]);
    });

    it('skips a file bigger than the whole cap, goes on past it, and reports it as capped', () => {
      const files = [
        bulk(700), // 1100 bytes: the cap is 110
        file('huge', 150, 99, { markedDaysAgo: 99 }),
        file('a', 50, 90, { markedDaysAgo: 90 }),
        file('b', 50, 80, { markedDaysAgo: 80 }),
        file('huge2', 150, 70, { markedDaysAgo: 70 }), // after the policy stopped: still reported as too big
      ];
      const p = plan(files, limits);
      expect(names(p)).toEqual(['a', 'b']);
      expect(p.unreferencedCapped).toBe(true);
      expect(p.notes).toHaveLength(1);
      expect(p.notes[0]).toMatch(
        /^unreferenced policy capped at 10 % of the cache, 110 B: 2 files \(300 B\)/,
      );
      expect(p.notes[0]).toContain('bigger than the whole cap stay (first: huge)');
    });

    it('does not count files taken by age against the cap', () => {
      const files = [
        bulk(800),
        file('old', 80, 70, { markedDaysAgo: 70 }),
        file('x', 80, 40, { markedDaysAgo: 40 }),
        file('y', 40, 40, { markedDaysAgo: 35 }),
      ];
      const p = plan(files, { ...limits, maxAgeMs: 60 * DAY });
      expect(taken(p)).toEqual(['old:age', 'x:unreferenced']);
      expect(p.unreferencedCapped).toBe(true);
      expect(p.notes[0]).toContain('1 file (40 B) left for the next run');
    });
  });

  describe('size', () => {
    it('does nothing at or below maxSizeBytes', () => {
      expect(plan(TEN, { maxSizeBytes: 1000 }).evictions).toEqual([]);
    });

    it('past maxSizeBytes, evicts least recently used down to the low watermark', () => {
      // 1000 > 950: down to 855, so two files.
      const p = plan(TEN, { maxSizeBytes: 950 });
      expect(taken(p)).toEqual(['f0:size', 'f1:size']);
      expect(p.bytesAfter).toBe(800);
      expect(p.byReason.size).toEqual({ files: 2, bytes: 200 });
    });

    it('evicts unreferenced files first, marked or not, least recently used among them', () => {
      const files = [
        ...TEN,
        file('u-marked', 100, 1, { markedDaysAgo: 1 }),
        file('u', 100, 2, { referenced: false }),
      ];
      const p = plan(files, { maxSizeBytes: 1100 }); // 1200 bytes, down to 990
      expect(names(p)).toEqual(['u', 'u-marked', 'f0']);
    });

    it('evicts plain LRU when the index is not usable, its references being untrustworthy', () => {
      const files = [
        ...TEN,
        file('u-marked', 100, 1, { markedDaysAgo: 1 }),
        file('u', 100, 2, { referenced: false }),
      ];
      const p = plan(files, { maxSizeBytes: 1100 }, { index: NOT_USABLE });
      expect(names(p)).toEqual(['f0', 'f1', 'f2']);
    });

    it('counts what earlier policies freed', () => {
      // 1000 > 890: down to 801, unless age took enough.
      const p = plan(TEN, { maxSizeBytes: 890, maxAgeMs: 9 * DAY - 1 });
      expect(taken(p)).toEqual(['f0:age', 'f1:age']);
      const q = plan(TEN, { maxSizeBytes: 890, maxAgeMs: 10 * DAY - 1 });
      expect(taken(q)).toEqual(['f0:age', 'f1:size']);
    });

    it('breaks ties in last request by name', () => {
      const files = ['c', 'a', 'd', 'b'].map((n) => file(n, 100, 5));
      expect(names(plan(files, { maxSizeBytes: 300, lowWatermark: 0.5 }))).toEqual(['a', 'b', 'c']);
    });
  });

  describe('free space', () => {
    const disk = { totalBytes: 10_000, freeBytes: 500 };

    it('below a floor in bytes, evicts LRU until free space reaches the floor over the low watermark', () => {
      const p = plan(TEN, { minFree: { bytes: 900 } }, { disk }); // target 1000: 5 files
      expect(taken(p)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4'].map((n) => `${n}:free-space`));
      expect(p.byReason['free-space']).toEqual({ files: 5, bytes: 500 });
      expect(p.notes).toEqual([]);
    });

    it('takes a floor given as a fraction of the filesystem', () => {
      const p = plan(TEN, { minFree: { fraction: 0.09 } }, { disk });
      expect(names(p)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    });

    it('does nothing at or above the floor', () => {
      expect(plan(TEN, { minFree: { bytes: 500 } }, { disk }).evictions).toEqual([]);
    });

    it('counts what earlier policies freed', () => {
      const limits = { minFree: { bytes: 900 }, maxSizeBytes: 700, lowWatermark: 0.6 };
      // Size takes 6 files (1000 → 400): 1100 free, above the floor.
      expect(names(plan(TEN, limits, { disk }))).toHaveLength(6);
      // Size takes 3 files (1000 → 700): 800 free, below; up to 900 / 0.9 = 1000.
      const p = plan(TEN, { ...limits, lowWatermark: 0.9, maxSizeBytes: 780 }, { disk });
      expect(taken(p)).toEqual(['f0:size', 'f1:size', 'f2:size', 'f3:free-space', 'f4:free-space']);
    });

    it('aims no higher than the whole filesystem', () => {
      // Floor 950, over the watermark 1055: capped at 1000, reached by evicting all.
      const p = plan(
        TEN.slice(0, 9),
        { minFree: { fraction: 0.95 } },
        { disk: { totalBytes: 1000, freeBytes: 100 } },
      );
      expect(p.evictions).toHaveLength(9);
      expect(p.notes).toEqual([]);
    });

    it('says so when free space stays below the floor after evicting everything', () => {
      const p = plan(
        TEN.slice(0, 3),
        { minFree: { bytes: 900 } },
        { disk: { totalBytes: 10_000, freeBytes: 100 } },
      );
      expect(p.evictions).toHaveLength(3);
      expect(p.bytesAfter).toBe(0);
      expect(p.notes).toEqual([
        'free-space target unreachable: after evicting every cached file 400 B would be free, ' +
          'still below the floor of 900 B',
      ]);
    });

    it('says so when the floor is reached but not the target', () => {
      const p = plan(
        TEN.slice(0, 8),
        { minFree: { bytes: 900 } },
        { disk: { totalBytes: 10_000, freeBytes: 150 } },
      );
      expect(p.evictions).toHaveLength(8);
      expect(p.notes).toEqual([
        'free-space target unreachable: after evicting every cached file 950 B would be free, ' +
          'above the floor of 900 B but short of the target of 1000 B',
      ]);
    });

    it('is skipped, with a note, when statfs failed', () => {
      const p = plan(TEN, { minFree: { bytes: 900 } });
      expect(p.evictions).toEqual([]);
      expect(p.notes).toEqual([
        'free-space policy skipped: the cache filesystem could not be measured (statfs failed)',
      ]);
    });

    it('evicts unreferenced files first, and plain LRU when the index is not usable', () => {
      const files = [...TEN, file('u', 100, 1, { referenced: false })];
      expect(names(plan(files, { minFree: { bytes: 540 } }, { disk }))).toEqual(['u']);
      expect(names(plan(files, { minFree: { bytes: 540 } }, { disk, index: NOT_USABLE }))).toEqual(['f0']);
    });
  });

  describe('all together', () => {
    const limits: JanitorLimits = {
      lowWatermark: 0.9,
      maxAgeMs: 60 * DAY,
      unreferencedGraceMs: 30 * DAY,
      unreferencedMaxShare: 1,
      maxSizeBytes: 500,
      minFree: { bytes: 950 },
    };
    const files = [
      file('aged-unref', 100, 100, { markedDaysAgo: 100 }), // age and unreferenced: age first
      file('unref', 100, 40, { markedDaysAgo: 40 }),
      file('unref-fresh', 100, 5, { markedDaysAgo: 5 }), // too fresh for its policy, first for size
      ...TEN,
    ];

    it('takes each file once, with the first reason in the order age, unreferenced, size, free-space', () => {
      const p = plan(files, limits, { disk: { totalBytes: 10_000, freeBytes: 100 } });
      // 1300 bytes; age 100, unreferenced 100 → 1100 > 500: size down to 450, 7 files; then 1000 free ≥ 950.
      expect(taken(p)).toEqual([
        'aged-unref:age',
        'unref:unreferenced',
        'unref-fresh:size',
        ...['f0', 'f1', 'f2', 'f3', 'f4', 'f5'].map((n) => `${n}:size`),
      ]);
      // 900 free < 950: up to 950 / 0.9 ≈ 1056.
      const q = plan(files, limits, { disk: { totalBytes: 10_000, freeBytes: 0 } });
      expect(taken(q).slice(9)).toEqual(['f6:free-space', 'f7:free-space']);
      for (const r of [p, q]) {
        expect(new Set(names(r)).size).toBe(r.evictions.length);
        const sum = EVICTION_REASONS.reduce((s, reason) => s + r.byReason[reason].bytes, 0);
        expect(r.bytesAfter).toBe(r.cacheBytes - sum);
      }
    });

    it('gives the same plan for the same input, whatever the order of the files, and leaves the input alone', () => {
      const input: JanitorInput = {
        now: NOW,
        files: Object.freeze(files.map((f) => Object.freeze({ ...f }))),
        limits: Object.freeze({ ...limits, unreferencedMaxShare: 0.1 }),
        disk: Object.freeze({ totalBytes: 10_000, freeBytes: 0 }),
        index: Object.freeze({ usable: true as const }),
      };
      const before = JSON.stringify(input);
      const p = planJanitor(input);
      expect(JSON.stringify(input)).toBe(before);
      expect(planJanitor(input)).toEqual(p);
      expect(planJanitor({ ...input, files: [...input.files].reverse() })).toEqual(p);
    });
  });

  describe('at 100,000 files', () => {
    /** A deterministic pseudo-random cache (mulberry32). */
    function bigCache(n: number): JanitorFile[] {
      let seed = 0x9e3779b9;
      const random = () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      };
      return Array.from({ length: n }, (_, i) => {
        const daysAgo = Math.floor(random() * 400);
        const unreferenced = random() < 0.2;
        return file(`distfile-${i}.tar.xz`, 1 + Math.floor(random() * 10_000_000), daysAgo, {
          referenced: !unreferenced,
          markedDaysAgo: unreferenced && random() < 0.5 ? Math.floor(random() * 400) : undefined,
        });
      });
    }
    const files = bigCache(100_000);
    const cacheBytes = files.reduce((s, f) => s + f.size, 0);

    it('evicts for size and free space unreferenced first, then LRU, down to the targets', () => {
      const maxSizeBytes = Math.floor(cacheBytes * 0.7);
      const disk = { totalBytes: cacheBytes * 2, freeBytes: 0 };
      const p = plan(files, { maxSizeBytes, minFree: { fraction: 0.35 } }, { disk });
      expect(p.bytesAfter).toBeLessThanOrEqual(0.9 * maxSizeBytes);
      expect(disk.freeBytes + p.cacheBytes - p.bytesAfter).toBeGreaterThanOrEqual(
        (0.35 * disk.totalBytes) / 0.9,
      );
      expect(p.byReason['free-space'].files).toBeGreaterThan(0);
      expect(new Set(names(p)).size).toBe(p.evictions.length);

      const byName = new Map(files.map((f) => [f.name, f]));
      const evicted = p.evictions.map((e) => byName.get(e.name) as JanitorFile);
      const firstReferenced = evicted.findIndex((f) => f.referenced);
      expect(firstReferenced).toBeGreaterThan(0);
      expect(evicted.slice(firstReferenced).every((f) => f.referenced)).toBe(true);
      expect(evicted.filter((f) => !f.referenced)).toHaveLength(files.filter((f) => !f.referenced).length);
      const lru = (list: readonly { lastAccessMs: number }[]) =>
        list.every((f, i) => i === 0 || f.lastAccessMs >= list[i - 1].lastAccessMs);
      expect(lru(evicted.slice(0, firstReferenced))).toBe(true);
      expect(lru(evicted.slice(firstReferenced))).toBe(true);
      // LRU: no kept referenced file was requested before the last one evicted.
      const gone = new Set(names(p));
      const newestEvicted = evicted[evicted.length - 1].lastAccessMs;
      expect(files.some((f) => f.referenced && !gone.has(f.name) && f.lastAccessMs < newestEvicted)).toBe(
        false,
      );
    });

    it('stays under the unreferenced cap, oldest mark first', () => {
      const p = plan(files, { unreferencedGraceMs: 30 * DAY, unreferencedMaxShare: 0.02 });
      expect(p.byReason.unreferenced.files).toBeGreaterThan(0);
      expect(p.byReason.unreferenced.bytes).toBeLessThanOrEqual(0.02 * cacheBytes);
      expect(p.unreferencedCapped).toBe(true);
      expect(p.notes).toHaveLength(1);
      const marks = new Map(files.map((f) => [f.name, f.unreferencedSinceMs as number]));
      const order = p.evictions.map((e) => marks.get(e.name) as number);
      expect(order.every((m, i) => i === 0 || m >= order[i - 1])).toBe(true);
    });
  });
});
