// What importing a directory came to, file by file and in sum. Shared by the server's directory
// import and the command's upload of a directory (no Nest here): both print the same summary.

export type ImportOutcome = 'imported' | 'already-cached' | 'mismatched' | 'skipped' | 'failed';

export interface FileResult {
  name: string;
  outcome: ImportOutcome;
  /** Bytes of the file in the directory (0 for what is not a file). */
  size: number;
  /** Why it was skipped, mismatched or failed. */
  reason?: string;
  /** Imported: a Manifest entry matched it (else imported unverified). */
  verified?: boolean;
  /** RESTRICT=fetch in a package naming it: portcache never downloads it itself. */
  fetchRestricted?: boolean;
}

export interface ImportSummary {
  /** Directory entries looked at. */
  entries: number;
  imported: number;
  /** Of the imported: how many without a Manifest to verify them (--unverified). */
  importedUnverified: number;
  importedBytes: number;
  alreadyCached: number;
  mismatched: number;
  skipped: number;
  failed: number;
  /** Skipped entries counted by reason. */
  skippedByReason: Record<string, number>;
  /** The first MAX_LISTED of each, with the reason. */
  mismatchedFiles: Array<{ name: string; reason: string }>;
  failedFiles: Array<{ name: string; reason: string }>;
  durationMs: number;
}

/** Names listed per outcome in a summary; the counts are always complete. */
export const MAX_LISTED = 100;

export class ImportTally {
  private readonly summary: ImportSummary = {
    entries: 0,
    imported: 0,
    importedUnverified: 0,
    importedBytes: 0,
    alreadyCached: 0,
    mismatched: 0,
    skipped: 0,
    failed: 0,
    skippedByReason: {},
    mismatchedFiles: [],
    failedFiles: [],
    durationMs: 0,
  };

  /** Bytes of the entries added so far. */
  private doneBytes = 0;

  /** Counts one entry; returns the progress so far (entries and their bytes). */
  add(result: FileResult): { doneFiles: number; doneBytes: number } {
    const s = this.summary;
    s.entries += 1;
    this.doneBytes += result.size;
    const reason = result.reason ?? 'no reason given';
    switch (result.outcome) {
      case 'imported':
        s.imported += 1;
        s.importedBytes += result.size;
        if (!result.verified) s.importedUnverified += 1;
        break;
      case 'already-cached':
        s.alreadyCached += 1;
        break;
      case 'mismatched':
        s.mismatched += 1;
        if (s.mismatchedFiles.length < MAX_LISTED) s.mismatchedFiles.push({ name: result.name, reason });
        break;
      case 'skipped':
        s.skipped += 1;
        s.skippedByReason[reason] = (s.skippedByReason[reason] ?? 0) + 1;
        break;
      case 'failed':
        s.failed += 1;
        if (s.failedFiles.length < MAX_LISTED) s.failedFiles.push({ name: result.name, reason });
        break;
    }
    return this.progress;
  }

  /** Entries counted so far and their bytes. */
  get progress(): { doneFiles: number; doneBytes: number } {
    return { doneFiles: this.summary.entries, doneBytes: this.doneBytes };
  }

  result(durationMs: number): ImportSummary {
    return { ...this.summary, durationMs: Math.round(durationMs) };
  }
}

/** The lines of the NDJSON answer of `POST /api/v1/import`, in order: start, then file (with progress between), then summary or error. */
export type ImportEvent =
  | { event: 'start'; dir: string; files: number; bytes: number; unverified: boolean }
  | { event: 'waiting'; message: string }
  | ({ event: 'file'; doneFiles: number; doneBytes: number } & FileResult)
  | { event: 'progress'; name: string; fileBytes: number; doneFiles: number; doneBytes: number }
  | ({ event: 'summary' } & ImportSummary)
  | { event: 'error'; message: string };

/** Reasons shared by both ways of importing, so the summary groups them alike. */
export const SKIP_UNKNOWN = 'unknown to every Manifest (--unverified imports it)';
export const SKIP_NO_DIGEST = 'its Manifest entries have no digest to verify it (--unverified imports it)';
export const SKIP_BUSY = 'being written by a fill or import right now';
