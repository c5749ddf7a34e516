import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * Moves a file that failed verification to `<dir>/<time>-<random>/<name>`, with `why` beside
 * it; the directory's time is when. Returns the file's new path.
 */
export async function moveToQuarantine(
  dir: string,
  path: string,
  name: string,
  reason: string,
): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '');
  const into = join(dir, `${stamp}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(into, { recursive: true });
  await fs.rename(path, join(into, name));
  await fs.writeFile(join(into, 'why'), `${name}: ${reason}\n`);
  return join(into, name);
}

/** Deletes quarantined files older than `maxAgeMs`; returns how many. */
export async function sweepQuarantine(dir: string, maxAgeMs: number): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, entry);
    const stat = await fs.stat(path).catch(() => undefined);
    if (!stat || stat.mtimeMs >= cutoff) continue;
    await fs.rm(path, { force: true, recursive: true });
    removed += 1;
  }
  return removed;
}
