/** Names someone is writing (a fill, an import, adoption, a delete): one writer per name. */
export class WriterClaims {
  private readonly writers = new Set<string>();

  /**
   * Makes the caller the only writer of `name` (fill, import, adoption, delete) until it calls
   * the returned release; undefined while someone else writes it.
   */
  claim(name: string): (() => void) | undefined {
    if (this.writers.has(name)) return undefined;
    this.writers.add(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.writers.delete(name);
    };
  }

  /** Whether someone writes `name` now. */
  has(name: string): boolean {
    return this.writers.has(name);
  }
}
