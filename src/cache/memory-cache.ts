/** A byte-bounded LRU of whole small files, so hot hits cost no syscalls. */
export class MemoryCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  readonly maxFileBytes: number;

  constructor(private readonly capacity: number) {
    this.maxFileBytes = Math.min(1024 * 1024, Math.floor(capacity / 8));
  }

  get(key: string): Buffer | undefined {
    const buffer = this.entries.get(key);
    if (buffer) {
      this.entries.delete(key);
      this.entries.set(key, buffer);
    }
    return buffer;
  }

  set(key: string, buffer: Buffer): void {
    if (buffer.length > this.maxFileBytes) return;
    this.delete(key);
    this.entries.set(key, buffer);
    this.bytes += buffer.length;
    for (const [oldKey, old] of this.entries) {
      if (this.bytes <= this.capacity) break;
      this.entries.delete(oldKey);
      this.bytes -= old.length;
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.bytes -= old.length;
  }
}
