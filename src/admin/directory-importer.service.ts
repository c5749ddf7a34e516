import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pipeline, Transform } from 'node:stream';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { HashThreads } from '../cache/hash-threads.js';
import { validateDistfileName } from '../distfile/distfile-name.js';
import { FillService, ImportBroken, ImportMismatch } from '../fills/fill.service.js';
import { ImportUnverified, sameDigests } from '../fills/import-outcome.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';
import { type DirListing, fingerprintOf, type ListedFile, listImportDir } from './import-listing.js';
import {
  type FileResult,
  type ImportEvent,
  ImportTally,
  SKIP_BUSY,
  SKIP_NO_DIGEST,
  SKIP_UNKNOWN,
} from './import-tally.js';

/** Read size for imported files (and for hashing one that may be cached already). */
const CHUNK = 1024 * 1024;
/** A progress line at most this often while a big file is copied. */
const PROGRESS_MS = 500;

/**
 * `POST /api/v1/import`: brings a directory the server can read (an existing
 * /var/cache/distfiles) into the cache, one file at a time, each streamed through
 * FillService.import (verified against the Manifest, the name's one writer, a mismatch
 * quarantined), so tens of GB never sit in memory. Files the cache holds with the same digests
 * are left alone.
 */
@Injectable()
export class DirectoryImporter {
  private readonly logger = new Logger(DirectoryImporter.name);

  constructor(
    private readonly fills: FillService,
    private readonly store: CacheStore,
    private readonly resolver: SrcUriResolver,
    private readonly hashes: HashThreads,
  ) {}

  /**
   * The directory's files, or an HTTP error the command falls back on (it uploads the files
   * instead): 404 not there, 403 not readable, 409 another directory than the command's.
   */
  async list(dir: string, fingerprint: string | undefined): Promise<DirListing> {
    if (!isAbsolute(dir)) throw new BadRequestException(`${dir}: give an absolute path`);
    let listing: DirListing;
    try {
      listing = await listImportDir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM')
        throw new ForbiddenException(`${dir}: the server may not read this directory (${code})`);
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new NotFoundException(`${dir}: no such directory on the server`);
      throw error;
    }
    if (fingerprint !== undefined && fingerprint !== fingerprintOf(listing.files)) {
      throw new ConflictException(
        `${dir} on the server is not the directory the command sees (other files, sizes or times)`,
      );
    }
    return listing;
  }

  /** Imports the listed files, telling each step to `emit`; stops between files once `signal` aborts. */
  async run(
    dir: string,
    listing: DirListing,
    options: { unverified: boolean; signal: AbortSignal },
    emit: (event: ImportEvent) => void,
  ): Promise<void> {
    const started = performance.now();
    const { files, skipped } = listing;
    const tally = new ImportTally();
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    emit({
      event: 'start',
      dir,
      files: files.length + skipped.length,
      bytes,
      unverified: options.unverified,
    });
    const done = (result: FileResult) => emit({ event: 'file', ...result, ...tally.add(result) });
    for (const entry of skipped)
      done({ name: entry.name, outcome: 'skipped', size: 0, reason: entry.reason });
    if (!this.resolver.ready) {
      emit({ event: 'waiting', message: 'waiting for the repository index to be built' });
      await Promise.race([this.resolver.whenReady(), aborted(options.signal)]);
    }
    for (const file of files) {
      if (options.signal.aborted) break;
      const progress = (fileBytes: number) => {
        const { doneFiles, doneBytes } = tally.progress;
        emit({ event: 'progress', name: file.name, fileBytes, doneFiles, doneBytes: doneBytes + fileBytes });
      };
      done(await this.importOne(file, options, progress));
    }
    const summary = tally.result(performance.now() - started);
    const cut = options.signal.aborted ? ' (cancelled: the client went away)' : '';
    this.logger.log(
      `import of ${dir}${cut}: ${summary.imported} imported, ${summary.alreadyCached} already cached, ` +
        `${summary.mismatched} mismatched, ${summary.skipped} skipped, ${summary.failed} failed`,
    );
    emit({ event: 'summary', ...summary });
  }

  private async importOne(
    file: ListedFile,
    options: { unverified: boolean; signal: AbortSignal },
    progress: (bytes: number) => void,
  ): Promise<FileResult> {
    const { name, size } = file;
    try {
      validateDistfileName(name);
    } catch (error) {
      return { name, size, outcome: 'skipped', reason: (error as Error).message };
    }
    const entry = this.resolver.lookup(name);
    const fetchRestricted = entry?.sources.some((source) => source.restrict.fetch) || undefined;
    if (!entry?.verifiable && !options.unverified)
      return { name, size, outcome: 'skipped', reason: entry ? SKIP_NO_DIGEST : SKIP_UNKNOWN };
    try {
      const cached = this.store.get(name);
      if (cached?.size === size && sameDigests(cached.digests, await this.hashes.hashFile(file.path)))
        return { name, size, outcome: 'already-cached', fetchRestricted };
      const result = await this.fills.import(name, this.readWithProgress(file, options.signal, progress), {
        unverified: options.unverified,
      });
      if (result.alreadyCached) return { name, size, outcome: 'already-cached', fetchRestricted };
      return { name, size, outcome: 'imported', verified: result.verified, fetchRestricted };
    } catch (error) {
      const reason = (error as Error).message;
      if (error instanceof ImportMismatch)
        return { name, size, outcome: 'mismatched', reason, fetchRestricted };
      if (error instanceof ImportUnverified) return { name, size, outcome: 'skipped', reason: SKIP_UNKNOWN };
      // Being fetched, imported or deleted right now: that writer decides.
      if (error instanceof HttpException && error.getStatus() !== 500)
        return { name, size, outcome: 'skipped', reason: SKIP_BUSY };
      if (!(error instanceof ImportBroken)) this.logger.warn(`import of ${file.path}: ${reason}`);
      return { name, size, outcome: 'failed', reason };
    }
  }

  /**
   * The file's bytes, with a progress call at most every PROGRESS_MS; cut when `signal` aborts.
   * Counted in a transform: a 'data' listener here would start the flow before the import reads.
   */
  private readWithProgress(file: ListedFile, signal: AbortSignal, progress: (bytes: number) => void) {
    let read = 0;
    let last = performance.now();
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        read += chunk.length;
        const now = performance.now();
        if (now - last >= PROGRESS_MS) {
          last = now;
          progress(read);
        }
        callback(null, chunk);
      },
    });
    pipeline(createReadStream(file.path, { highWaterMark: CHUNK, signal }), counter, () => undefined);
    return counter;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
