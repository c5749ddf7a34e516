import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.org',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.org',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', ['-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: GIT_ENV,
  });
  return stdout.trim();
}

/**
 * A bare "remote" repository at `<root>/<parent>/<name>.git` and a function that pushes a commit
 * with the given files to it (returning the commit).
 */
export async function makeGitRemote(root: string, name: string, parent: string) {
  const url = join(root, parent, `${name}.git`);
  const work = join(root, 'work', parent, name);
  await mkdir(work, { recursive: true });
  await git(root, 'init', '--quiet', '--bare', url);
  await git(work, 'init', '--quiet');
  const push = async (files: Record<string, string>): Promise<string> => {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), content);
    }
    await git(work, 'add', '--all');
    await git(work, 'commit', '--quiet', '--message', 'update');
    await git(work, 'push', '--quiet', url, 'HEAD:main');
    return git(work, 'rev-parse', 'HEAD');
  };
  return { url, push };
}
