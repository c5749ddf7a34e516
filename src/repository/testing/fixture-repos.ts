import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NodeRepositoryReader, type PackAs, type RepositoryReader } from '../repository-reader.js';

/** The fixture repositories, unpacked from test/fixtures/*.tar.gz by test/extract-fixtures.ts. */
export const FIXTURE_REPOS = {
  gentoo: 'test/fixtures/repos/gentoo',
  guru: 'test/fixtures/repos/guru',
};

export function collectingLogger() {
  const logs: string[] = [];
  const warnings: string[] = [];
  return {
    logs,
    warnings,
    log: (message: string) => logs.push(message),
    warn: (message: string) => warnings.push(message),
  };
}

/** A fresh temporary copy of fixture repositories, to change in tests. */
export async function copyFixtures(
  ...names: Array<keyof typeof FIXTURE_REPOS>
): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmpdir(), 'portcache-repo-'));
  const copies: Record<string, string> = { root };
  for (const name of names) {
    copies[name] = join(root, name);
    await cp(FIXTURE_REPOS[name], copies[name], { recursive: true });
  }
  return copies;
}

export interface RepoSpec {
  name: string;
  masters?: string;
  mirrors?: string;
  /** `cat/pf` → md5-cache lines (`KEY=value`). */
  entries?: Record<string, string>;
  /** `cat/pn` → Manifest text. */
  manifests?: Record<string, string>;
}

/** A small repository written from scratch. */
export async function writeRepo(location: string, spec: RepoSpec): Promise<string> {
  const files: Record<string, string> = {
    'profiles/repo_name': `${spec.name}\n`,
    'metadata/layout.conf': `masters = ${spec.masters ?? ''}\n`,
    'profiles/thirdpartymirrors': spec.mirrors ?? '',
  };
  for (const [cpv, text] of Object.entries(spec.entries ?? {})) files[`metadata/md5-cache/${cpv}`] = text;
  for (const [path, text] of Object.entries(spec.manifests ?? {})) files[`${path}/Manifest`] = text;
  await mkdir(join(location, 'metadata/md5-cache'), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(location, path)), { recursive: true });
    await writeFile(join(location, path), text);
  }
  return location;
}

/** Records which paths the index stats and reads. */
export class CountingReader implements RepositoryReader {
  readonly reads: string[] = [];
  readonly stats: string[] = [];
  private readonly inner = new NodeRepositoryReader();

  readdir(path: string) {
    return this.inner.readdir(path);
  }

  stat(paths: readonly string[]) {
    this.stats.push(...paths);
    return this.inner.stat(paths);
  }

  readFiles(paths: readonly string[], pack?: PackAs) {
    this.reads.push(...paths);
    return this.inner.readFiles(paths, pack);
  }

  close() {
    return this.inner.close();
  }

  /** md5-cache entries and Manifests read since the last call. */
  takeReads(): string[] {
    const reads = this.reads.filter((path) => !path.endsWith('/metadata/timestamp.chk'));
    this.reads.length = 0;
    this.stats.length = 0;
    return reads;
  }
}
