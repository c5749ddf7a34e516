import { resolve } from 'node:path';
import { fingerprintOf, listImportDir } from '../admin/import-listing.js';
import { type FileResult, type ImportEvent, type ImportSummary, ImportTally } from '../admin/import-tally.js';
import { HashThreads } from '../cache/hash-threads.js';
import { messageOf, postNdjson } from './api.js';
import { formatImportSummary, SkippedNames } from './import-format.js';
import { uploadFile } from './import-upload.js';
import { Progress } from './progress.js';

/**
 * `portcache import DIR`: the server reads DIR itself when it can (no copy through HTTP); when
 * it cannot (404: not there, 403: not readable, 409: another directory of that path, as on
 * another machine), each file is uploaded through the API. Progress on stderr, the summary on
 * stdout; exit 1 when a file mismatched or failed.
 */
export async function importDirectory(
  dir: string,
  options: { unverified: boolean; json: boolean },
): Promise<number> {
  const abs = resolve(dir);
  const listing = await listImportDir(abs);
  const bytes = listing.files.reduce((sum, file) => sum + file.size, 0);
  const progress = new Progress(process.stderr, listing.files.length + listing.skipped.length, bytes);
  const skipped = new SkippedNames();
  const seen = (result: FileResult, doneFiles: number, doneBytes: number) => {
    if (result.outcome === 'skipped') skipped.add(result.name, result.reason ?? '');
    if (result.outcome === 'mismatched' || result.outcome === 'failed')
      progress.note(
        `${result.outcome}: ${result.reason?.startsWith(result.name) ? '' : `${result.name}: `}${result.reason}`,
      );
    progress.update(doneFiles, doneBytes);
  };

  let summary: ImportSummary | undefined;
  let failure: string | undefined;
  const request = { dir: abs, unverified: options.unverified, fingerprint: fingerprintOf(listing.files) };
  const refused = await postNdjson('/api/v1/import', request, (line) => {
    const event = line as ImportEvent;
    if (event.event === 'file') seen(event, event.doneFiles, event.doneBytes);
    else if (event.event === 'progress') progress.update(event.doneFiles, event.doneBytes, event.name);
    else if (event.event === 'waiting') progress.note(event.message);
    else if (event.event === 'summary') summary = event;
    else if (event.event === 'error') failure = event.message;
  });
  let how: 'server' | 'upload' = 'server';
  if (refused) {
    const message = messageOf(refused);
    const adminRefusal = refused.status === 401 || /PORTCACHE_ADMIN_TOKEN/.test(message);
    if (adminRefusal || ![403, 404, 409].includes(refused.status)) {
      progress.finish();
      console.error(message);
      return 1;
    }
    progress.note(`The server cannot import ${abs} itself (${message}); uploading its files.`);
    how = 'upload';
    summary = await upload(listing, options.unverified, seen);
  }
  progress.finish();
  if (!summary) {
    console.error(`import of ${abs} ended without a summary${failure ? `: ${failure}` : ''}`);
    return 1;
  }
  console.log(
    options.json ? JSON.stringify(summary, null, 2) : formatImportSummary(abs, how, summary, skipped),
  );
  return summary.mismatched + summary.failed > 0 ? 1 : 0;
}

async function upload(
  listing: Awaited<ReturnType<typeof listImportDir>>,
  unverified: boolean,
  seen: (result: FileResult, doneFiles: number, doneBytes: number) => void,
): Promise<ImportSummary> {
  const started = performance.now();
  const tally = new ImportTally();
  const hashes = new HashThreads(1);
  const done = (result: FileResult) => {
    const { doneFiles, doneBytes } = tally.add(result);
    seen(result, doneFiles, doneBytes);
  };
  for (const entry of listing.skipped)
    done({ name: entry.name, outcome: 'skipped', size: 0, reason: entry.reason });
  try {
    for (const file of listing.files) done(await uploadFile(file, unverified, hashes));
  } finally {
    await hashes.close();
  }
  return tally.result(performance.now() - started);
}
