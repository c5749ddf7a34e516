/**
 * What a fill uses of a response body: a Readable (undici's, an import's) or a PlainBody. A
 * 'data' chunk may be valid only during the event (PlainBody's are): keep a copy, not the chunk.
 */
export interface BodyStream {
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  pause(): this;
  resume(): this;
  isPaused(): boolean;
  destroy(error?: Error): this;
}
