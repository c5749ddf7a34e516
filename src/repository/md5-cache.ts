/** One `metadata/md5-cache/<cat>/<pf>` file: `KEY=value` lines. */
export interface Md5CacheEntry {
  readonly EAPI?: string;
  readonly SRC_URI?: string;
  readonly RESTRICT?: string;
  /** MD5 of the ebuild, to tell a stale cache entry. */
  readonly _md5_?: string;
  readonly [key: string]: string | undefined;
}

/** Every key, split on the first `=`; lines without one and empty keys are skipped. */
export function parseMd5CacheEntry(data: string | Buffer): Md5CacheEntry {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const entry: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    entry[line.slice(0, eq)] = line.slice(eq + 1).replace(/\r$/, '');
  }
  return entry;
}
