import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entryProblem, fingerprintOf, listImportDir } from './import-listing.js';

describe('import listing', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'portcache-listing-'));
    dirs.push(dir);
    return dir;
  }

  it('skips dotfiles and Portage downloads in progress by name', () => {
    expect(entryProblem('.locks')).toContain('dotfile');
    expect(entryProblem('foo-1.0.tar.gz.__download__')).toContain('in progress');
    expect(entryProblem('foo-1.0.tar.gz')).toBeUndefined();
  });

  it('lists regular files (through symlinks) sorted, and says why it skips the rest', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'b-2.0.tar.gz'), 'bb');
    await writeFile(join(dir, 'a-1.0.tar.gz'), 'a');
    await symlink(join(dir, 'a-1.0.tar.gz'), join(dir, 'c-link.tar.gz'));
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling.tar.gz'));
    await mkdir(join(dir, 'git3-src'));
    await writeFile(join(dir, '.keep'), '');
    const listing = await listImportDir(dir);
    expect(listing.files.map((f) => [f.name, f.size])).toEqual([
      ['a-1.0.tar.gz', 1],
      ['b-2.0.tar.gz', 2],
      ['c-link.tar.gz', 1],
    ]);
    expect(listing.skipped).toEqual([
      { name: '.keep', reason: 'hidden file or directory (dotfile)' },
      { name: 'dangling.tar.gz', reason: 'cannot stat: ENOENT' },
      { name: 'git3-src', reason: 'a directory' },
    ]);
  });

  it('the fingerprint changes with a name, a size or an mtime, not with sub-second time', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a-1.0.tar.gz'), 'a');
    const at = new Date('2024-10-01T10:00:00.000Z');
    await utimes(join(dir, 'a-1.0.tar.gz'), at, at);
    const first = fingerprintOf((await listImportDir(dir)).files);
    await utimes(join(dir, 'a-1.0.tar.gz'), at, new Date(at.getTime() + 400));
    expect(fingerprintOf((await listImportDir(dir)).files)).toBe(first);
    await utimes(join(dir, 'a-1.0.tar.gz'), at, new Date(at.getTime() + 5000));
    expect(fingerprintOf((await listImportDir(dir)).files)).not.toBe(first);
    await writeFile(join(dir, 'a-1.0.tar.gz'), 'ab');
    await utimes(join(dir, 'a-1.0.tar.gz'), at, at);
    expect(fingerprintOf((await listImportDir(dir)).files)).not.toBe(first);
  });

  it('throws what readdir throws for a missing directory', async () => {
    await expect(listImportDir(join(await tempDir(), 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
