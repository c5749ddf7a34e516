import type { RepositoryLogger } from './repos.js';
import type { FileContent, PackAs, RepositoryReader } from './repository-reader.js';

/** Entries or Manifests read at once, and parsed in one turn of the event loop. */
const SLICE = 128;
export const UNCHANGED = Symbol('unchanged');

/**
 * Reads a category's files through the RepositoryReader a slice at a time, and only those whose
 * ctime is not the one already known.
 */
export class SlicedReader {
  constructor(
    private readonly reader: RepositoryReader,
    private readonly logger: RepositoryLogger,
  ) {}

  /**
   * Visits each of `count` paths: UNCHANGED when its ctime is the one known (NaN: known to be
   * missing), else what reading it found. Paths are made when needed: a category's worth made
   * up front outlived two young-generation collections and died in old space. Each file read
   * counts in `counter.filesRead`. `pack`: see RepositoryReader.readFiles.
   */
  async readChanged(
    count: number,
    pathOf: (i: number) => string,
    known: ReadonlyArray<number | undefined>,
    counter: { filesRead: number },
    visit: (i: number, read: FileContent | typeof UNCHANGED | undefined) => void,
    pack?: PackAs,
  ): Promise<void> {
    const knownAt: number[] = [];
    for (let i = 0; i < count; i++) if (known[i] !== undefined) knownAt.push(i);
    const ctimes = knownAt.length > 0 ? await this.reader.stat(knownAt.map(pathOf)) : [];
    const toRead: number[] = [];
    let next = 0;
    for (let i = 0; i < count; i++) {
      if (known[i] !== undefined && Object.is(known[i], ctimes[next++] ?? Number.NaN)) visit(i, UNCHANGED);
      else toRead.push(i);
    }
    await this.readAll(
      toRead.length,
      (j) => pathOf(toRead[j]),
      (j, read) => {
        if (read) counter.filesRead++;
        visit(toRead[j], read);
      },
      pack,
    );
  }

  /**
   * A slice at a time, each file visited as soon as its slice arrives: the reader lends the
   * bytes until the next turn only, and what parsing leaves behind dies young. Unreadable files
   * are reported and then treated as missing.
   */
  async readAll(
    count: number,
    pathOf: (i: number) => string,
    visit: (i: number, read: FileContent | undefined) => void,
    pack?: PackAs,
  ): Promise<void> {
    for (let from = 0; from < count; from += SLICE) {
      const slice: string[] = [];
      for (let i = from; i < count && i < from + SLICE; i++) slice.push(pathOf(i));
      const reads = await this.reader.readFiles(slice, pack);
      reads.forEach((read, j) => {
        if (read instanceof Error) this.logger.warn(`cannot read ${slice[j]}: ${read.message}`);
        visit(from + j, read instanceof Error ? undefined : read);
      });
    }
  }
}
