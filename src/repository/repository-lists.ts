import type { RepositoryConfig } from './repos.js';

// Two discoveries' lists of repositories compared: what a refresh keeps of the previous index.

/** The repositories both lists have come in the same order. */
export function sameOrder(a: readonly RepositoryConfig[], b: readonly RepositoryConfig[]): boolean {
  const common = (list: readonly RepositoryConfig[], other: readonly RepositoryConfig[]) =>
    list.map((repo) => repo.name).filter((name) => other.some((repo) => repo.name === name));
  const x = common(a, b);
  const y = common(b, a);
  return x.every((name, i) => name === y[i]);
}

/** Same names, locations, masters and mirrors, in the same order. */
export function sameRepositories(a: readonly RepositoryConfig[], b: readonly RepositoryConfig[]): boolean {
  const key = (repos: readonly RepositoryConfig[]) =>
    JSON.stringify(repos.map((repo) => [repo.name, repo.location, repo.masters, [...repo.mirrors]]));
  return key(a) === key(b);
}
