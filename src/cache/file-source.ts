/** Bytes of a cached file, or of one being filled, for one response. */
export interface FileSource {
  /**
   * The bytes from `position` on, not beyond `end`: read into `buffer` (a part of it comes
   * back) or, when the source holds them in memory, those chunks, which stay valid until the
   * next read() or close(). None: the file ends at `position`. May call back before returning.
   */
  read(
    position: number,
    end: number,
    buffer: Buffer,
    callback: (error: Error | null, chunks: readonly Buffer[]) => void,
  ): void;
  /**
   * A descriptor of the whole file, for sources whose bytes are all on disk and verified (a
   * committed file): sendBody may hand it to sendfile(2) instead of calling read().
   */
  readonly fd?: number;
  /** No more reads will come: lets go of the file. Called once, never while a read is running. */
  close(): void;
}
