import { depScanner, LIFT_FETCH, LIFT_NONE } from './dep-string.js';

/**
 * SRC_URI and RESTRICT, the PMS dependency-string syntax, read the way a cache needs them:
 * without USE flags, so every conditional branch is taken (any client may enable any flag).
 */

/** An EAPI 8 `fetch+` / `mirror+` prefix: lifts that restriction for this one URI. */
export type UriLift = 'fetch' | 'mirror';

export interface SrcUriItem {
  /** The `->` target, else the URI's last path segment as written (no URL decoding, as Portage). */
  readonly name: string;
  /** Without its `fetch+`/`mirror+` prefix; `mirror://NAME/path` as written. Absent for a bare file name. */
  readonly uri?: string;
  readonly lifts?: UriLift;
}

const scanDepString = depScanner();

export class DependStringError extends Error {}

export class SrcUriError extends DependStringError {}

/**
 * Distfiles named by SRC_URI, in SRC_URI order, as written: one name may come several times,
 * with different URIs or the same. Throws SrcUriError on anything Portage would refuse. Tokens
 * are split on spaces, tabs and line ends. For tools and tests: the index has its reader thread
 * run the same grammar (depScanner) on md5-cache entries (see md5-cache-pack.ts).
 */
export function parseSrcUri(input: string | readonly string[]): SrcUriItem[] {
  const src = Buffer.from(typeof input === 'string' ? input : input.join(' '));
  const items: number[] = [];
  const error = scanDepString(src, 0, src.length, false, [], items);
  if (error !== undefined) throw new SrcUriError(error);
  const parsed: SrcUriItem[] = [];
  for (let i = 0; i < items.length; i += 5) {
    const name = src.toString('utf8', items[i], items[i + 1]);
    if (items[i + 2] < 0) {
      parsed.push({ name });
      continue;
    }
    const uri = src.toString('utf8', items[i + 2], items[i + 3]);
    const lift = items[i + 4];
    parsed.push(
      lift === LIFT_NONE ? { name, uri } : { name, uri, lifts: lift === LIFT_FETCH ? 'fetch' : 'mirror' },
    );
  }
  return parsed;
}

/** Every RESTRICT token of every branch (`!test? ( test ) mirror` → test, mirror). */
export function parseRestrict(input: string | readonly string[]): Set<string> {
  const src = Buffer.from(typeof input === 'string' ? input : input.join(' '));
  const words: number[] = [];
  const error = scanDepString(src, 0, src.length, true, [], words);
  if (error !== undefined) throw new DependStringError(error);
  const found = new Set<string>();
  for (let i = 0; i < words.length; i += 2) found.add(src.toString('utf8', words[i], words[i + 1]));
  return found;
}
