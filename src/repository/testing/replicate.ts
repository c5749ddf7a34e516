import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export interface ReplicaSummary {
  entries: number;
  manifests: number;
  categories: string[];
}

/**
 * A synthetic tree of ::gentoo's size for benchmarks: `copies` copies of every category of
 * `srcRepoDir` under renamed categories (`app-misc` → `app-misc-r7`). Each copy renames every
 * distfile (`foo.tar.gz` → `c7-foo.tar.gz`) in SRC_URI and Manifest alike, so copies share no
 * file and the index grows as a real one would. 33 copies of the GURU fixture: 31,185 md5-cache
 * entries, 20,526 Manifests.
 */
export async function replicateRepo(
  srcRepoDir: string,
  destDir: string,
  copies: number,
): Promise<ReplicaSummary> {
  const cacheRoot = join(srcRepoDir, 'metadata/md5-cache');
  const sourceCategories = (await fs.readdir(cacheRoot)).sort();
  const entries = new Map<string, Array<[string, string]>>();
  const manifests = new Map<string, Array<[string, string]>>();
  for (const category of sourceCategories) {
    const pfs = (await fs.readdir(join(cacheRoot, category))).sort();
    entries.set(
      category,
      await Promise.all(pfs.map(async (pf) => [pf, await read(join(cacheRoot, category, pf))])),
    );
    const packages = await fs.readdir(join(srcRepoDir, category)).catch(() => [] as string[]);
    const found: Array<[string, string]> = [];
    for (const pn of packages.sort()) {
      const text = await fs
        .readFile(join(srcRepoDir, category, pn, 'Manifest'), 'utf8')
        .catch(() => undefined);
      if (text !== undefined) found.push([pn, text]);
    }
    manifests.set(category, found);
  }

  const categories: string[] = [];
  const writes: Array<[string, string]> = [];
  for (let copy = 1; copy <= copies; copy++) {
    const prefix = `c${copy}-`;
    for (const category of sourceCategories) {
      const renamed = `${category}-r${copy}`;
      categories.push(renamed);
      for (const [pf, text] of entries.get(category) ?? []) {
        writes.push([join(destDir, 'metadata/md5-cache', renamed, pf), renameInEntry(text, prefix)]);
      }
      for (const [pn, text] of manifests.get(category) ?? []) {
        writes.push([join(destDir, renamed, pn, 'Manifest'), renameInManifest(text, prefix)]);
      }
    }
  }
  for (const file of ['profiles/repo_name', 'profiles/thirdpartymirrors', 'metadata/layout.conf']) {
    const text = await fs.readFile(join(srcRepoDir, file), 'utf8').catch(() => undefined);
    if (text !== undefined) writes.push([join(destDir, file), text]);
  }
  writes.push([join(destDir, 'profiles/categories'), `${categories.join('\n')}\n`]);

  const dirs = new Set(writes.map(([path]) => path.slice(0, path.lastIndexOf('/'))));
  for (const dir of dirs) await fs.mkdir(dir, { recursive: true });
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < writes.length) {
        const [path, text] = writes[next++];
        await fs.writeFile(path, text);
      }
    }),
  );
  const count = (sums: Map<string, unknown[]>) =>
    [...sums.values()].reduce((n, list) => n + list.length, 0) * copies;
  return { entries: count(entries), manifests: count(manifests), categories };
}

function read(path: string): Promise<string> {
  return fs.readFile(path, 'utf8');
}

function renameInEntry(text: string, prefix: string): string {
  return text.replace(/^SRC_URI=(.*)$/m, (_, value: string) => `SRC_URI=${renameInSrcUri(value, prefix)}`);
}

/** Prefixes each distfile name: `->` targets, bare names and the last path segment of URIs. */
export function renameInSrcUri(value: string, prefix: string): string {
  let afterArrow = false;
  return value
    .split(' ')
    .map((token) => {
      if (token === '->') {
        afterArrow = true;
        return token;
      }
      const renamed = afterArrow
        ? prefix + token
        : token === '(' || token === ')' || token.endsWith('?') || token === ''
          ? token
          : token.slice(0, token.lastIndexOf('/') + 1) + prefix + token.slice(token.lastIndexOf('/') + 1);
      afterArrow = false;
      return renamed;
    })
    .join(' ');
}

function renameInManifest(text: string, prefix: string): string {
  return text.replace(/^DIST (\S+)/gm, (_, name: string) => `DIST ${prefix}${name}`);
}
