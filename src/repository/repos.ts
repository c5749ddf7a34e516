import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type MirrorTable, parseThirdpartyMirrors, stackMirrorTables } from './thirdpartymirrors.js';

export const DEFAULT_REPOS_CONF = '/etc/portage/repos.conf';
/** Portage reads this one first; it defines ::gentoo when /etc/portage/repos.conf only adds overlays. */
export const DEFAULT_PORTAGE_REPOS_CONF = '/usr/share/portage/config/repos.conf';
export const DEFAULT_REPOS_DIR = '/var/db/repos';

export interface RepositoryDiscoveryOptions {
  /** Repository directories given explicitly (PORTCACHE_REPOS): no discovery then. */
  paths?: readonly string[];
  reposConf?: string;
  portageReposConf?: string;
  reposDir?: string;
}

export interface RepositoryConfig {
  readonly name: string;
  /** Absolute. */
  readonly location: string;
  readonly masters: readonly string[];
  /** Its profiles/thirdpartymirrors stacked on those of its masters. */
  readonly mirrors: MirrorTable;
  readonly hasMd5Cache: boolean;
}

export interface RepositoryLogger {
  log(message: string): void;
  warn(message: string): void;
}

interface Candidate {
  location: string;
  /** Where it came from, for messages: `repos.conf [guru]`, `PORTCACHE_REPOS`, ... */
  origin: string;
  section?: string;
  masters?: string[];
}

interface Loaded {
  config: Omit<RepositoryConfig, 'mirrors'>;
  ownMirrors: MirrorTable;
}

/**
 * The repositories to index: `paths` if given, else the sections of repos.conf (Portage's
 * defaults, then /etc/portage/repos.conf, a file or a directory), else every directory under
 * /var/db/repos. Problems are warnings naming the repository and what to do; this never throws.
 */
export async function discoverRepositories(
  options: RepositoryDiscoveryOptions,
  logger: RepositoryLogger,
): Promise<RepositoryConfig[]> {
  const candidates = await findCandidates(options, logger);
  const loaded: Loaded[] = [];
  const byName = new Map<string, Loaded>();
  for (const candidate of candidates) {
    const repo = await loadRepository(candidate, logger);
    if (!repo) continue;
    const other = byName.get(repo.config.name);
    if (other) {
      logger.warn(
        `repository ${repo.config.name} at ${repo.config.location} ignored: ${other.config.location} has the same name`,
      );
      continue;
    }
    byName.set(repo.config.name, repo);
    loaded.push(repo);
  }
  const stacked = new Map<string, MirrorTable>();
  const mirrorsOf = (repo: Loaded, path: readonly string[]): MirrorTable => {
    const known = stacked.get(repo.config.name);
    if (known) return known;
    const tables: MirrorTable[] = [];
    for (const masterName of repo.config.masters) {
      const master = byName.get(masterName);
      if (!master) {
        logger.warn(
          `repository ${repo.config.name} lists master ${masterName}, which was not found: mirror:// names defined only there cannot be expanded; add ${masterName} to repos.conf or PORTCACHE_REPOS`,
        );
      } else if (!path.includes(masterName)) {
        tables.push(mirrorsOf(master, [...path, masterName]));
      }
    }
    tables.push(repo.ownMirrors);
    const table = stackMirrorTables(tables);
    stacked.set(repo.config.name, table);
    return table;
  };
  return loaded.map((repo) => ({ ...repo.config, mirrors: mirrorsOf(repo, [repo.config.name]) }));
}

async function findCandidates(
  options: RepositoryDiscoveryOptions,
  logger: RepositoryLogger,
): Promise<Candidate[]> {
  if (options.paths) {
    if (options.paths.length === 0) logger.warn('no repository paths given: no SRC_URI is known');
    return options.paths.map((path) => ({ location: resolve(path), origin: 'PORTCACHE_REPOS' }));
  }
  const sections = new Map<string, Record<string, string>>();
  const origins = new Map<string, string>();
  for (const path of [
    options.portageReposConf ?? DEFAULT_PORTAGE_REPOS_CONF,
    options.reposConf ?? DEFAULT_REPOS_CONF,
  ]) {
    for (const file of await configFiles(path)) {
      for (const [name, keys] of parseReposConf(await fs.readFile(file, 'utf8'))) {
        sections.set(name, { ...sections.get(name), ...keys });
        origins.set(name, file);
      }
    }
  }
  sections.delete('DEFAULT');
  if (sections.size > 0) {
    const candidates: Candidate[] = [];
    for (const [section, keys] of sections) {
      const origin = `${origins.get(section)} [${section}]`;
      if (!keys.location) {
        logger.warn(`${origin} has no location: skipped`);
        continue;
      }
      const masters = keys.masters === undefined ? undefined : keys.masters.split(/\s+/).filter(Boolean);
      candidates.push({ location: resolve(keys.location), origin, section, masters });
    }
    return candidates;
  }
  const reposDir = options.reposDir ?? DEFAULT_REPOS_DIR;
  const dirents = await fs.readdir(reposDir, { withFileTypes: true }).catch(() => undefined);
  if (!dirents) {
    logger.warn(
      `no repos.conf and no ${reposDir}: no repository to index; set PORTCACHE_REPOS or PORTCACHE_SYNC_REPOS`,
    );
    return [];
  }
  return dirents
    .filter((dirent) => dirent.isDirectory() && !dirent.name.startsWith('.'))
    .map((dirent) => dirent.name)
    .sort()
    .map((name) => ({ location: join(reposDir, name), origin: reposDir }));
}

/** A repos.conf path: the file itself, or the files of a directory (as Portage: not hidden, not `~`). */
async function configFiles(path: string): Promise<string[]> {
  const stat = await fs.stat(path).catch(() => undefined);
  if (!stat) return [];
  if (!stat.isDirectory()) return [path];
  const names = await fs.readdir(path);
  const files: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    if ((await fs.stat(join(path, name)).catch(() => undefined))?.isFile()) files.push(join(path, name));
  }
  return files;
}

/** INI as Python's configparser reads repos.conf: `[section]`, `key = value` or `key: value`, `#`/`;` comments. */
export function parseReposConf(text: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1].trim();
      current = sections.get(name) ?? {};
      sections.set(name, current);
      continue;
    }
    const separator = line.search(/[=:]/);
    if (!current || separator <= 0) continue;
    current[line.slice(0, separator).trim().toLowerCase()] = line.slice(separator + 1).trim();
  }
  return sections;
}

async function loadRepository(candidate: Candidate, logger: RepositoryLogger): Promise<Loaded | undefined> {
  const { location, origin } = candidate;
  const stat = await fs.stat(location).catch(() => undefined);
  if (!stat?.isDirectory()) {
    logger.warn(
      `repository ${candidate.section ?? location} (${origin}): ${location} is not a directory; fix the path or remove it`,
    );
    return undefined;
  }
  const layout = parseLayoutConf((await readText(join(location, 'metadata/layout.conf'))) ?? '');
  let name = layout['repo-name'] ?? firstLine(await readText(join(location, 'profiles/repo_name')));
  if (!name) {
    name = candidate.section ?? basename(location);
    logger.warn(`repository at ${location} has no profiles/repo_name: using the name ${name}`);
  }
  const masters = candidate.masters ?? (layout.masters ?? '').split(/\s+/).filter(Boolean);
  const ownMirrors = parseThirdpartyMirrors(
    (await readText(join(location, 'profiles/thirdpartymirrors'))) ?? '',
  );
  const hasMd5Cache =
    (await fs.stat(join(location, 'metadata/md5-cache')).catch(() => undefined))?.isDirectory() ?? false;
  if (!hasMd5Cache) {
    logger.warn(
      `repository ${name} (${location}) has no metadata/md5-cache, so portcache knows none of its SRC_URIs: run \`egencache --update --repo ${name}\` after each sync (or sync it from a mirror that carries the cache)`,
    );
  }
  return { config: { name, location, masters, hasMd5Cache }, ownMirrors };
}

/** metadata/layout.conf: `key = value` lines, `#` comments. */
export function parseLayoutConf(text: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) keys[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return keys;
}

async function readText(path: string): Promise<string | undefined> {
  return fs.readFile(path, 'utf8').catch(() => undefined);
}

function firstLine(text: string | undefined): string | undefined {
  const line = text?.split('\n')[0].trim();
  return line === '' ? undefined : line;
}
