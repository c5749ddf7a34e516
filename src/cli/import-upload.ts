import { createReadStream } from 'node:fs';
import type { ListedFile } from '../admin/import-listing.js';
import { type FileResult, SKIP_BUSY, SKIP_NO_DIGEST, SKIP_UNKNOWN } from '../admin/import-tally.js';
import type { HashThreads } from '../cache/hash-threads.js';
import { messageOf, send } from './api.js';

/** What explain (`GET /api/v1/distfiles/<name>`) says that an upload needs. */
interface Explained {
  index: { ready: boolean; known: boolean; verifiable?: boolean; packages?: Array<{ restrict: string[] }> };
  cache: { cached: boolean; size?: number; BLAKE2B?: string; SHA512?: string };
}

/** The server refuses the token: no other file would do better. */
export class Refused extends Error {}

/**
 * One file of a directory the server cannot read, through the API: explain first (a file the
 * server would refuse, or holds with the same digests, is not sent), then `PUT` it.
 */
export async function uploadFile(
  file: ListedFile,
  unverified: boolean,
  hashes: HashThreads,
): Promise<FileResult> {
  const { name, size } = file;
  const path = `/api/v1/distfiles/${encodeURIComponent(name)}`;
  const explained = await send('GET', path);
  if (explained.status === 400) return { name, size, outcome: 'skipped', reason: messageOf(explained) };
  if (explained.status !== 200) return { name, size, outcome: 'failed', reason: messageOf(explained) };
  const { index, cache } = explained.json as Explained;
  const fetchRestricted = index.packages?.some((p) => p.restrict.includes('fetch')) || undefined;
  if (index.ready && !index.verifiable && !unverified)
    return { name, size, outcome: 'skipped', reason: index.known ? SKIP_NO_DIGEST : SKIP_UNKNOWN };
  if (cache.cached && cache.size === size) {
    const local = await hashes.hashFile(file.path);
    if (local.BLAKE2B === cache.BLAKE2B && local.SHA512 === cache.SHA512)
      return { name, size, outcome: 'already-cached', fetchRestricted };
  }
  const answer = await send(
    'PUT',
    `${path}${unverified ? '?unverified=1' : ''}`,
    createReadStream(file.path),
    size,
  );
  const reason = messageOf(answer);
  switch (answer.status) {
    case 201:
      return {
        name,
        size,
        outcome: 'imported',
        verified: (answer.json as { verified?: boolean }).verified,
        fetchRestricted,
      };
    case 200:
      return { name, size, outcome: 'already-cached', fetchRestricted };
    case 422:
      return { name, size, outcome: 'mismatched', reason, fetchRestricted };
    case 409:
      return {
        name,
        size,
        outcome: 'skipped',
        reason: /no Manifest/.test(reason) ? SKIP_UNKNOWN : SKIP_BUSY,
      };
    case 401:
    case 403:
      throw new Refused(reason);
    default:
      return { name, size, outcome: 'failed', reason };
  }
}
