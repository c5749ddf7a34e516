import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

// Shared by the server's directory import and the `portcache import DIR` command (no Nest here):
// both must list a directory the same way to agree on its fingerprint.

/** A regular file of the directory, a candidate for import. */
export interface ListedFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedEntry {
  name: string;
  reason: string;
}

export interface DirListing {
  files: ListedFile[];
  skipped: SkippedEntry[];
}

/** Portage's download in progress (`<name>.__download__`): never a whole distfile. */
const PORTAGE_PARTIAL = '.__download__';

/** Why a directory entry is not a candidate (undefined: it is, if it is a regular file). */
export function entryProblem(name: string): string | undefined {
  if (name.startsWith('.')) return 'hidden file or directory (dotfile)';
  if (name.endsWith(PORTAGE_PARTIAL)) return "Portage's download in progress";
  return undefined;
}

/**
 * The files of `dir` (not its subdirectories), sorted by name; dotfiles, Portage's partial
 * downloads and anything but a regular file (followed through symlinks) are skipped with the
 * reason. Throws what readdir throws (ENOENT, EACCES, ENOTDIR).
 */
export async function listImportDir(dir: string): Promise<DirListing> {
  const names = (await fs.readdir(dir)).sort();
  const files: ListedFile[] = [];
  const skipped: SkippedEntry[] = [];
  for (const name of names) {
    const problem = entryProblem(name);
    if (problem) {
      skipped.push({ name, reason: problem });
      continue;
    }
    const path = join(dir, name);
    const stat = await fs.stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (stat instanceof Error) skipped.push({ name, reason: `cannot stat: ${stat.code ?? stat.message}` });
    else if (!stat.isFile())
      skipped.push({ name, reason: stat.isDirectory() ? 'a directory' : 'not a regular file' });
    else files.push({ name, path, size: stat.size, mtimeMs: stat.mtimeMs });
  }
  return { files, skipped };
}

/**
 * Tells whether the server sees the directory the command sees (not another one of the same
 * path on another machine): names, sizes and mtimes (whole seconds) of the candidates.
 */
export function fingerprintOf(files: readonly ListedFile[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.name}\0${file.size}\0${Math.floor(file.mtimeMs / 1000)}\n`);
  return hash.digest('hex');
}
