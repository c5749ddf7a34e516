import { describe, expect, it } from 'vitest';
import { type LogOutput, LogWriter } from './log-writer.js';

class Output implements LogOutput {
  chunks: string[] = [];
  callbacks: Array<() => void> = [];
  writableLength = 0;
  /** false: callbacks wait for release(). */
  constructor(private readonly immediate = true) {}
  write(chunk: string, callback: (error?: Error | null) => void): boolean {
    this.chunks.push(chunk);
    if (this.immediate) callback();
    else this.callbacks.push(() => callback());
    return true;
  }
  release(): void {
    for (const callback of this.callbacks.splice(0)) callback();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LogWriter', () => {
  it('writes the lines of a burst in one chunk, within flushMs', async () => {
    const output = new Output();
    const writer = new LogWriter(output, { flushMs: 20 });
    for (let i = 0; i < 100; i++) writer.write(`line ${i}\n`);
    expect(output.chunks).toEqual([]);
    await sleep(60);
    expect(output.chunks).toHaveLength(1);
    expect(output.chunks[0].split('\n')).toHaveLength(101);
  });

  it('writes at once past flushChars', () => {
    const output = new Output();
    const writer = new LogWriter(output, { flushMs: 10_000, flushChars: 100 });
    for (let i = 0; i < 30; i++) writer.write('0123456789\n');
    expect(output.chunks.length).toBeGreaterThanOrEqual(2);
    writer.flush();
    expect(output.chunks.join('')).toBe('0123456789\n'.repeat(30));
  });

  it('drain() waits until the output has taken every line, bounded', async () => {
    const output = new Output(false);
    const writer = new LogWriter(output, { flushMs: 10_000 });
    writer.write('a\n');
    let drained = false;
    const draining = writer.drain(5000).then(() => {
      drained = true;
    });
    await sleep(20);
    expect(output.chunks).toEqual(['a\n']);
    expect(drained).toBe(false);
    output.release();
    await draining;
    expect(drained).toBe(true);

    writer.write('b\n');
    const started = Date.now();
    await writer.drain(50); // never released: gives up
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('drops lines while the output is not read, then says how many', () => {
    const output = new Output();
    const writer = new LogWriter(output, { flushMs: 10_000, maxQueuedBytes: 1000 });
    output.writableLength = 5000;
    writer.write('lost 1\n');
    writer.write('lost 2\n');
    writer.flush();
    expect(output.chunks).toEqual([]);
    output.writableLength = 0;
    writer.write('kept\n');
    writer.flush();
    expect(output.chunks).toEqual(['2 log line(s) dropped: the log output was not read\nkept\n']);
  });
});
