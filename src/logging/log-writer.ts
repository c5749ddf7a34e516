import { writeSync } from 'node:fs';

/** Where lines go: process.stdout, or a test's collector. */
export interface LogOutput {
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  /** Bytes accepted but not yet handed to the OS (a stream's queue). */
  readonly writableLength?: number;
  /** A descriptor to write to synchronously when the process exits abruptly. */
  readonly fd?: number;
}

export interface LogWriterOptions {
  /** Lines wait at most this long before they are written. */
  flushMs: number;
  /** ... or until this many characters are waiting. */
  flushChars: number;
  /** Past this many bytes queued in the output (a stuck reader), lines are dropped and counted. */
  maxQueuedBytes: number;
  /** The line that tells how many lines were dropped. */
  droppedLine: (count: number) => string;
}

const DEFAULTS: LogWriterOptions = {
  flushMs: 50,
  // Small batches: lines waiting longer outlive young-generation collections, and promoted
  // garbage grew the old generation by tens of MB under 16k hits/s (performance-notes).
  flushChars: 8 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  droppedLine: (count) => `${count} log line(s) dropped: the log output was not read\n`,
};

/**
 * Lines written in batches: a write call per line on stdout costs a syscall (or a queued
 * chunk) each, and the access log writes one line per request at thousands a second. A
 * reader that stops reading costs lines, not memory.
 */
export class LogWriter {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private writing = 0;
  private readonly idle: Array<() => void> = [];
  private readonly options: LogWriterOptions;
  private readonly written = (): void => {
    this.writing -= 1;
    if (this.writing === 0) for (const resolve of this.idle.splice(0)) resolve();
  };

  constructor(
    private readonly output: LogOutput,
    options: Partial<LogWriterOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  write(line: string): void {
    if ((this.output.writableLength ?? 0) > this.options.maxQueuedBytes) {
      this.dropped += 1;
      return;
    }
    this.pending += line;
    if (this.pending.length >= this.options.flushChars) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.flushMs);
      this.timer.unref();
    }
  }

  /** Hands what is waiting to the output now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dropped > 0 && (this.output.writableLength ?? 0) <= this.options.maxQueuedBytes) {
      this.pending = this.options.droppedLine(this.dropped) + this.pending;
      this.dropped = 0;
    }
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.writing += 1;
    try {
      this.output.write(chunk, this.written);
    } catch {
      this.written(); // a closed output: nothing to wait for
    }
  }

  /** Resolves once every line written so far has left the process, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.writing === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idle.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** At an abrupt exit (no event loop left): what is waiting, written synchronously if possible. */
  flushSync(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '' || this.output.fd === undefined) return;
    const chunk = this.pending;
    this.pending = '';
    try {
      writeSync(this.output.fd, chunk);
    } catch {
      // A full non-blocking pipe or a closed descriptor: the lines are lost, the exit goes on.
    }
  }
}
