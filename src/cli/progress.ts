import { bar, percent, size } from './format.js';

/**
 * A progress bar on stderr: on a terminal one line redrawn (at most 10 times a second), else a
 * line every `every` files, so a log shows it advance without a line per file.
 */
export class Progress {
  private lastDraw = 0;
  private drawn = false;
  private lastLineAt = 0;
  private readonly every: number;
  private done = { files: 0, bytes: 0 };

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly files: number,
    private readonly bytes: number,
  ) {
    this.every = Math.min(100, Math.max(1, Math.ceil(files / 20)));
  }

  /** Files and bytes done so far; `current`: the file in progress. */
  update(files: number, bytes: number, current?: string): void {
    this.done = { files, bytes };
    if (this.out.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && files < this.files) return;
      this.lastDraw = now;
      this.draw(current);
    } else if (files - this.lastLineAt >= this.every || (files === this.files && files !== this.lastLineAt)) {
      this.lastLineAt = files;
      this.out.write(`${this.text()}\n`);
    }
  }

  /** A line above the bar (a file that failed), the bar redrawn below it. */
  note(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    if (this.out.isTTY) this.draw();
  }

  finish(): void {
    this.clear();
  }

  private text(current?: string): string {
    const share =
      this.bytes > 0 ? this.done.bytes / this.bytes : this.files > 0 ? this.done.files / this.files : 1;
    const name = current ? `  ${current}` : '';
    return (
      `${bar(share)} ${percent(share)}  ${this.done.files}/${this.files} files, ` +
      `${size(this.done.bytes)} of ${size(this.bytes)}${name}`
    );
  }

  private draw(current?: string): void {
    const width = this.out.columns || 80;
    this.out.write(`\r\x1b[2K${this.text(current).slice(0, width - 1)}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
