import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { PersistentTimes } from './persistent-times.js';

/** Every real write of the file goes through this private method: counting its calls counts writes. */
type Writer = { write(): Promise<void> };

describe('PersistentTimes', () => {
  let dir: string;
  let path: string;
  let writes: MockInstance<Writer['write']>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcache-times-'));
    path = join(dir, 'times');
    writes = vi.spyOn(PersistentTimes.prototype as unknown as Writer, 'write');
  });

  afterEach(async () => {
    writes.mockRestore();
    await rm(dir, { recursive: true, force: true });
  });

  async function reload(warn?: (message: string) => void): Promise<PersistentTimes> {
    const times = new PersistentTimes(path, { warn });
    await times.load();
    return times;
  }

  it('round trip: what was set and not deleted is what a new instance loads', async () => {
    const times = new PersistentTimes(path);
    await times.load();
    times.set('a.tar.gz', 1_700_000_000_000);
    times.set('b.zip', 5);
    times.set('c.tar.xz', 7);
    times.set('b.zip', 6);
    expect(times.delete('c.tar.xz')).toBe(true);
    expect(times.delete('c.tar.xz')).toBe(false);
    await times.flush();
    const text = await readFile(path, 'utf8');
    expect(text).toBe('portcache-times 1\n1700000000000 a.tar.gz\n6 b.zip\n');
    const loaded = await reload();
    expect([...loaded.entries()]).toEqual([
      ['a.tar.gz', 1_700_000_000_000],
      ['b.zip', 6],
    ]);
    expect(loaded.size).toBe(2);
    expect(loaded.has('c.tar.xz')).toBe(false);
    expect(loaded.get('b.zip')).toBe(6);
  });

  it('a missing file (or directory) loads as empty, without a warning', async () => {
    const warn = vi.fn();
    const times = new PersistentTimes(join(dir, 'not', 'there'), { warn });
    await times.load();
    expect(times.size).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    times.set('x', 1);
    await times.flush(); // creates the directory
    expect(await readFile(join(dir, 'not', 'there'), 'utf8')).toBe('portcache-times 1\n1 x\n');
  });

  it('skips unreadable lines with one warning and keeps the readable ones', async () => {
    const lines = ['portcache-times 1', '1 good', 'nospace', 'abc bad-ms', ' no-ms', '2 ', '', '3 also good'];
    await writeFile(path, `${lines.join('\n')}\n4 cut-sh`);
    const warn = vi.fn();
    const times = await reload(warn);
    expect([...times.entries()]).toEqual([
      ['good', 1],
      ['also good', 3],
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/skipped 6 unreadable line\(s\), the first is line 3/);
  });

  it('a file of another format loads as empty, with a warning', async () => {
    await writeFile(path, 'portcache-times 2\n1 a\n');
    const warn = vi.fn();
    expect((await reload(warn)).size).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('crash: a temp file left by an interrupted write is ignored and removed, the old file loads', async () => {
    const times = new PersistentTimes(path);
    times.set('old', 1);
    await times.close();
    const leftover = join(dir, 'times.0123456789abcdef.tmp');
    await writeFile(leftover, 'portcache-times 1\n2 new\n3 half-writ');
    // Another PersistentTimes' temp file (another name in the same directory) is not ours to remove.
    const foreign = join(dir, 'other.0123456789abcdef.tmp');
    await writeFile(foreign, '');
    const loaded = await reload();
    expect([...loaded.entries()]).toEqual([['old', 1]]);
    expect((await readdir(dir)).sort()).toEqual(['other.0123456789abcdef.tmp', 'times']);
  });

  it('many set() calls: no write before flushDelayMs, then exactly one, not postponed by later calls', async () => {
    const times = new PersistentTimes(path, { flushDelayMs: 300 });
    const started = Date.now();
    for (let i = 0; i < 1000; i++) times.set(`f${i % 10}`, i);
    await sleep(200);
    times.set('late', 1); // must not postpone the write to 500 ms
    expect(writes).toHaveBeenCalledTimes(0);
    await vi.waitFor(() => expect(writes).toHaveBeenCalledTimes(1), { timeout: 2000, interval: 5 });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(480);
    // A new instance removes temporary files it finds: loading during the write would take its file away.
    await writes.mock.results[0]?.value;
    await vi.waitFor(async () => expect((await reload()).size).toBe(11), { timeout: 2000 });
    await sleep(500);
    expect(writes).toHaveBeenCalledTimes(1);
  });

  it('flush() during a flush: callers share one write, and a change meanwhile is written next', async () => {
    const times = new PersistentTimes(path);
    times.set('a', 1);
    const first = times.flush();
    const same = times.flush(); // nothing changed since the write began: waits for it, no second write
    await Promise.all([first, same]);
    expect(writes).toHaveBeenCalledTimes(1);

    times.set('a', 2);
    const running = times.flush();
    times.set('b', 3);
    const second = times.flush();
    const third = times.flush();
    expect(third).toBe(second);
    await Promise.all([running, second, third]);
    expect(writes).toHaveBeenCalledTimes(3);
    expect([...(await reload()).entries()]).toEqual([
      ['a', 2],
      ['b', 3],
    ]);
    await times.flush(); // nothing changed: no write
    expect(writes).toHaveBeenCalledTimes(3);
  });

  it('close() writes what is pending and stops the timer; later set() only on an explicit flush()', async () => {
    const times = new PersistentTimes(path, { flushDelayMs: 50 });
    times.set('a', 1);
    await times.close();
    expect(writes).toHaveBeenCalledTimes(1);
    times.set('b', 2);
    await sleep(200);
    expect(writes).toHaveBeenCalledTimes(1);
    await times.flush();
    expect([...(await reload()).entries()]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('a failed write is warned, never thrown, and written by a later flush', async () => {
    await writeFile(join(dir, 'blocker'), '');
    const warn = vi.fn();
    path = join(dir, 'blocker', 'times'); // a directory that cannot exist
    const times = new PersistentTimes(path, { warn });
    times.set('a', 1);
    await times.close();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/write failed/);
    await rm(join(dir, 'blocker'));
    await times.flush();
    expect([...(await reload()).entries()]).toEqual([['a', 1]]);
  });

  it('names with spaces and unicode survive', async () => {
    const names = [
      'a b  c.tar.gz',
      ' leading',
      'trailing ',
      '1 2 3',
      'ünïcødé-日本語.tar.xz',
      '🐧 emoji.zip',
    ];
    const times = new PersistentTimes(path);
    names.forEach((name, i) => {
      times.set(name, i + 1);
    });
    await times.flush();
    expect([...(await reload()).entries()]).toEqual(names.map((name, i) => [name, i + 1]));
  });

  it('100,000 entries round trip (flush time and event-loop delay logged)', async () => {
    const times = new PersistentTimes(path);
    const base = 1_700_000_000_000;
    for (let i = 0; i < 100_000; i++) times.set(`some-package-${i}.${i % 7}.tar.gz`, base + i);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const started = performance.now();
    await times.flush();
    const flushMs = performance.now() - started;
    delay.disable();
    const bytes = (await stat(path)).size;
    const loadStarted = performance.now();
    const loaded = await reload();
    const loadMs = performance.now() - loadStarted;
    console.log(
      `100,000 entries, ${(bytes / 1e6).toFixed(1)} MB: flush ${flushMs.toFixed(0)} ms ` +
        `(event loop blocked at most ${(delay.max / 1e6).toFixed(1)} ms), load ${loadMs.toFixed(0)} ms`,
    );
    expect(loaded.size).toBe(100_000);
    for (let i = 0; i < 100_000; i += 997)
      expect(loaded.get(`some-package-${i}.${i % 7}.tar.gz`)).toBe(base + i);
    expect(loaded.get('some-package-99999.4.tar.gz')).toBe(base + 99_999);
  });
});
