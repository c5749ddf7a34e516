import { type OneOrMany, PerSource, type Shared } from './distfile-records.js';

// The values of one row of the file map while a build writes it: a list kept as one value when
// it has one (OneOrMany), and per-source values kept as one when they agree (Shared).

export function anyIn<T>(many: OneOrMany<T>, set: ReadonlySet<T>): boolean {
  if (many === undefined) return false;
  return Array.isArray(many) ? (many as readonly T[]).some((value) => set.has(value)) : set.has(many as T);
}

/** None left: undefined, so that a row without sources or owners is not live. */
export function single<T>(values: readonly T[]): OneOrMany<T> {
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}

/**
 * A new exact-size array: versions of a package add to a file's list one after the other, so
 * each list but the last dies young, and the last needs no copy in finish().
 */
export function appendMany<T>(many: OneOrMany<T>, value: T): OneOrMany<T> {
  if (many === undefined) return value;
  if (!Array.isArray(many)) return [many as T, value];
  const list = many as readonly T[];
  const longer = new Array<T>(list.length + 1);
  for (let i = 0; i < list.length; i++) longer[i] = list[i];
  longer[list.length] = value;
  return longer;
}

/** `count` values so far, one shared or one each; equal values stay shared. */
export function appendShared<T>(
  shared: Shared<T> | undefined,
  count: number,
  value: T,
  same: (a: T, b: T) => boolean,
): Shared<T> {
  if (count === 0) return value;
  if (shared instanceof PerSource) {
    const values = shared.values as T[];
    // Versions of a package usually fetch a file from the same URIs: keep them once.
    values.push(same(values[values.length - 1], value) ? values[values.length - 1] : value);
    return shared;
  }
  if (same(shared as T, value)) return shared as T;
  return new PerSource([...new Array<T>(count).fill(shared as T), value]);
}

export function copyMany<T>(many: OneOrMany<T>): OneOrMany<T> {
  return Array.isArray(many) ? [...many] : many;
}

export function copyShared<T>(shared: Shared<T> | undefined): Shared<T> | undefined {
  return shared instanceof PerSource ? new PerSource([...shared.values]) : shared;
}

export function filterShared<T>(
  shared: Shared<T> | undefined,
  keep: readonly boolean[],
): Shared<T> | undefined {
  if (!keep.includes(true)) return undefined;
  return shared instanceof PerSource ? new PerSource(shared.values.filter((_, i) => keep[i])) : shared;
}

/**
 * One exact-size array (arrays grown by push carry spare slots) per distinct list: versions of a
 * package name the same files, so files with several sources mostly share their list.
 */
export class Lists<T> {
  /** By first value: lists that share one mostly are the same list. */
  private readonly lists = new Map<T, Array<readonly T[]>>();

  /** `values` is exact-size (appendMany) and kept as it is when it is a new list. */
  get(values: readonly T[]): OneOrMany<T> {
    if (values.length < 2) return values[0];
    const known = this.lists.get(values[0]);
    if (known) {
      for (const list of known) if (sameList(list, values)) return list;
      known.push(values);
    } else {
      this.lists.set(values[0], [values]);
    }
    return values;
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One value when all agree (the usual case), else one per source. */
export function compact<T>(
  shared: Shared<T> | undefined,
  same: (a: T, b: T) => boolean,
): Shared<T> | undefined {
  if (!(shared instanceof PerSource)) return shared;
  const values = shared.values;
  return values.every((value) => same(value, values[0])) ? values[0] : new PerSource(values.slice());
}
