import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PartialFile } from '../cache/partial-file.js';

const SINK_BUFFER = 1024 * 1024;

/** Writes an upstream body into a PartialFile, batching the chunks that arrive during a write. */
export class PartialFileSink extends Writable {
  private constructor(private readonly partial: PartialFile) {
    super({ highWaterMark: SINK_BUFFER });
  }

  static copy(body: NodeJS.ReadableStream, partial: PartialFile): Promise<void> {
    return pipeline(body, new PartialFileSink(partial));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.partial.append(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.partial.append([chunk]).then(() => callback(), callback);
  }
}
