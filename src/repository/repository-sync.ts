import { execFile } from 'node:child_process';
import { mkdir, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface SyncLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface SyncedRepository {
  readonly url: string;
  readonly name: string;
  /** stable path to index */
  readonly path: string;
}

export interface RepositorySyncOptions {
  dataDir: string;
  urls: readonly string[];
  logger: SyncLogger;
  /** Per git command; default 10 min. */
  timeoutMs?: number;
  /**
   * Proxies as in config.proxy. Given, git sees exactly these, not the proxy variables of
   * portcache's own environment (PORTCACHE_HTTP_PROXY=none must hold for git too).
   */
  proxy?: { http: string | undefined; https: string | undefined; noProxy: string | undefined };
}

/** Where the fetched remote HEAD is kept in `<dataDir>/git/<name>.git` (a ref, so gc keeps its objects). */
const SYNCED_REF = 'refs/portcache/head';

/**
 * Keeps shallow git checkouts of PORTCACHE_SYNC_REPOS under the data directory:
 * - `git/<name>.git`: bare shallow repository, fetched with `--depth 1`;
 * - `checkouts/<name>/<commit>`: one immutable directory per commit (`<commit>.tmp` while being written);
 * - `repos/<name>`: the stable path, a symlink to `../checkouts/<name>/<commit>`, replaced by rename.
 * The previous checkout stays one round for readers still in it. Assumes one process per data directory.
 */
export class RepositorySync {
  readonly repositories: readonly SyncedRepository[];
  /** When each repository (by name) was last synced successfully, in this process. */
  readonly lastSynced = new Map<string, number>();
  private readonly dataDir: string;
  private readonly logger: SyncLogger;
  private readonly timeoutMs: number;
  private readonly proxy: RepositorySyncOptions['proxy'];
  private running: Promise<string[]> | undefined;

  constructor(options: RepositorySyncOptions) {
    this.dataDir = resolve(options.dataDir);
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 10 * 60_000;
    this.proxy = options.proxy;
    const used = new Set<string>();
    this.repositories = options.urls.map((url) => {
      if (url.trim() === '') throw new Error('PORTCACHE_SYNC_REPOS contains an empty URL');
      if (url.startsWith('-')) {
        throw new Error(
          `PORTCACHE_SYNC_REPOS: "${url}" looks like a command-line option, not a repository URL`,
        );
      }
      const base = nameFromUrl(url);
      let name = base;
      for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
      used.add(name);
      return { url, name, path: join(this.dataDir, 'repos', name) };
    });
  }

  /** Clones what is missing, fetches the rest; returns the names whose checkout changed. Never throws. */
  syncAll(): Promise<string[]> {
    this.running ??= this.syncEach().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async syncEach(): Promise<string[]> {
    const changed = await Promise.all(
      this.repositories.map((repo) =>
        this.sync(repo).then(
          (changed) => {
            this.lastSynced.set(repo.name, Date.now());
            return changed;
          },
          (error: unknown) => {
            this.logger.warn(
              `sync of ${redact(repo.url)} failed: ${(error as Error).message}; keeping the previous checkout of ${repo.name}`,
            );
            return false;
          },
        ),
      ),
    );
    return this.repositories.filter((_, i) => changed[i]).map((repo) => repo.name);
  }

  /** True if the stable path now shows another commit. */
  private async sync(repo: SyncedRepository): Promise<boolean> {
    const linkPrefix = `../checkouts/${repo.name}/`;
    const current = await linkedCommit(repo.path, linkPrefix);
    if (current === 'foreign') {
      this.logger.warn(
        `${repo.path} is not a symlink made by portcache; leaving it alone and not syncing ${redact(repo.url)} (move it away to let portcache manage it)`,
      );
      return false;
    }
    const gitDir = join(this.dataDir, 'git', `${repo.name}.git`);
    const checkouts = join(this.dataDir, 'checkouts', repo.name);
    const tempLink = join(this.dataDir, 'repos', `.${repo.name}.tmp`);

    // Leftovers of an interrupted run: temp symlink, half-written checkouts, git lock files.
    await mkdir(join(this.dataDir, 'repos'), { recursive: true });
    await mkdir(checkouts, { recursive: true });
    await rm(tempLink, { force: true });
    for (const entry of await readdir(checkouts)) {
      if (entry.endsWith('.tmp')) await rm(join(checkouts, entry), { recursive: true, force: true });
    }
    // `init` is idempotent: it creates the repository or completes a half-made one.
    await this.git(undefined, ['init', '--quiet', '--bare', gitDir]);
    await removeStaleLocks(gitDir);

    // Detached auto-gc would outlive the timeout and race the next run; keep it inside the fetch.
    await this.git(gitDir, [
      ...['-c', 'gc.autoDetach=false', '-c', 'maintenance.autoDetach=false'],
      ...['fetch', '--quiet', '--depth', '1', '--no-tags', '--', repo.url, `+HEAD:${SYNCED_REF}`],
    ]);
    const commit = (await this.git(gitDir, ['rev-parse', '--verify', `${SYNCED_REF}^{commit}`])).trim();
    const dir = join(checkouts, commit);
    const exists = await isDirectory(dir);
    if (commit === current && exists) return false;
    if (!exists) await this.materialize(gitDir, commit, dir);

    await symlink(linkPrefix + commit, tempLink);
    await rename(tempLink, repo.path);
    // The swap is done: a failed cleanup must not report this sync as failed.
    const old = (await readdir(checkouts)).filter((entry) => entry !== commit && entry !== current);
    await Promise.all(old.map((entry) => rm(join(checkouts, entry), { recursive: true, force: true }))).catch(
      (error: Error) => this.logger.warn(`could not delete old checkouts in ${checkouts}: ${error.message}`),
    );
    const from = current ? `${current.slice(0, 12)} -> ` : '';
    this.logger.log(`${repo.name}: ${from}${commit.slice(0, 12)} from ${redact(repo.url)}`);
    return true;
  }

  /**
   * Writes the commit's files into `dir` through a throwaway index (read-tree + checkout-index): the
   * checkout is plain files (no .git, no worktree bookkeeping to prune), deleted with a plain rm. On
   * 60k md5-cache-like files it took about as long as `worktree add` or `archive | tar` (all three are
   * bound by writing the files), without needing a pipe or tar.
   */
  private async materialize(gitDir: string, commit: string, dir: string): Promise<void> {
    const building = `${dir}.tmp`;
    await mkdir(building);
    const env = { GIT_INDEX_FILE: join(gitDir, 'portcache-index') };
    await this.git(gitDir, ['read-tree', commit], env);
    await this.git(gitDir, [`--work-tree=${building}`, 'checkout-index', '--all'], env);
    await rm(env.GIT_INDEX_FILE, { force: true });
    await rename(building, dir);
  }

  /** Runs git without a shell or prompts; errors carry git's reason. */
  private async git(
    gitDir: string | undefined,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<string> {
    const dirArgs = gitDir ? [`--git-dir=${gitDir}`] : [];
    try {
      const { stdout } = await execFileAsync('git', [...dirArgs, '-c', 'credential.helper=', ...args], {
        encoding: 'utf8',
        env: { ...withProxies(process.env, this.proxy), GIT_TERMINAL_PROMPT: '0', ...env },
        timeout: this.timeoutMs,
      });
      return stdout;
    } catch (error) {
      const { stderr, killed } = error as { stderr?: string; killed?: boolean };
      if (killed) throw new Error(`git timed out after ${this.timeoutMs / 1000} s`);
      throw new Error(gitReason(stderr) ?? (error as Error).message);
    }
  }
}

const PROXY_VARIABLES = ['http', 'https', 'all', 'no'].flatMap((scheme) => [
  `${scheme}_proxy`,
  `${scheme.toUpperCase()}_PROXY`,
]);

/**
 * `env` with the proxy variables curl (and so git) reads replaced by `proxy`; unchanged without
 * it. A `http.proxy` in git's own configuration still overrides these, as git documents.
 */
function withProxies(env: NodeJS.ProcessEnv, proxy: RepositorySyncOptions['proxy']): NodeJS.ProcessEnv {
  if (!proxy) return env;
  const result = { ...env };
  for (const name of PROXY_VARIABLES) delete result[name];
  if (proxy.http) result.http_proxy = proxy.http;
  if (proxy.https) result.https_proxy = proxy.https;
  if (proxy.noProxy) result.no_proxy = proxy.noProxy;
  return result;
}

/** Last URL path segment without `.git`, reduced to a safe directory name. */
function nameFromUrl(url: string): string {
  const last =
    url
      .replace(/[/\\]+$/, '')
      .split(/[/\\:]/)
      .pop() ?? '';
  const name = last
    .replace(/\.git$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '');
  return name || 'repo';
}

/** The commit the stable path links to; undefined if absent; 'foreign' if it is not our symlink. */
async function linkedCommit(path: string, linkPrefix: string): Promise<string | undefined | 'foreign'> {
  let target: string;
  try {
    target = await readlink(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EINVAL') return 'foreign'; // exists, not a symlink
    throw error;
  }
  const commit = target.slice(linkPrefix.length);
  return target.startsWith(linkPrefix) && /^[0-9a-f]{40,64}$/.test(commit) ? commit : 'foreign';
}

/** Lock files left by a killed git would fail every later fetch; runs never overlap, so any found is stale. */
async function removeStaleLocks(gitDir: string): Promise<void> {
  const locks = (await readdir(gitDir))
    .filter((entry) => entry.endsWith('.lock'))
    .map((l) => join(gitDir, l));
  locks.push(join(gitDir, `${SYNCED_REF}.lock`));
  await Promise.all(locks.map((lock) => rm(lock, { force: true })));
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}

/** git's own reason: its first `fatal:`/`error:` line, else its last line. */
function gitReason(stderr: string | undefined): string | undefined {
  const lines = (stderr ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.find((line) => /^(fatal|error):/.test(line)) ?? lines.at(-1);
}

/** Hides credentials in `https://user:token@host/...`. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}
