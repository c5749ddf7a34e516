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

export class DependStringError extends Error {}

export class SrcUriError extends DependStringError {}

/** Whitespace-separated tokens. */
export function tokenizeDepString(text: string): string[] {
  return text.split(/\s+/).filter((token) => token !== '');
}

/**
 * Distfiles named by SRC_URI, in SRC_URI order, as written: one name may come several times,
 * with different URIs or the same (filesOf groups them and drops exact repeats). Throws
 * SrcUriError on anything Portage would refuse.
 */
export function parseSrcUri(input: string | readonly string[]): SrcUriItem[] {
  const tokens = typeof input === 'string' ? tokenizeDepString(input) : input;
  const fail = (message: string): never => {
    throw new SrcUriError(message);
  };
  const groups = new GroupTracker(fail);
  const items: MutableItem[] = [];
  let renamable: MutableItem | undefined;
  let awaitingName = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (awaitingName) {
      if (!isPlainName(token)) fail(`expected a file name after '->', got '${token}' (token ${i + 1})`);
      (renamable as MutableItem).name = token;
      renamable = undefined;
      awaitingName = false;
      continue;
    }
    if (token === '->') {
      if (renamable === undefined) fail(`'->' must follow a URI (token ${i + 1})`);
      awaitingName = true;
      continue;
    }
    renamable = undefined;
    if (groups.take(token, i + 1)) continue;
    const item = operand(token, fail, tokens[i + 1] === '->');
    items.push(item);
    if (item.uri !== undefined) renamable = item;
  }
  if (awaitingName) fail(`missing file name after '->' at the end`);
  groups.end();
  return items;
}

/** Every RESTRICT token of every branch (`!test? ( test ) mirror` → test, mirror). */
export function parseRestrict(input: string | readonly string[]): Set<string> {
  const tokens = typeof input === 'string' ? tokenizeDepString(input) : input;
  const fail = (message: string): never => {
    throw new DependStringError(message);
  };
  const groups = new GroupTracker(fail);
  const found = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (groups.take(token, i + 1)) continue;
    if (token === '->') fail(`'->' is not allowed in RESTRICT (token ${i + 1})`);
    found.add(token);
  }
  groups.end();
  return found;
}

interface MutableItem {
  name: string;
  uri?: string;
  lifts?: UriLift;
}

const OPERATORS = new Set(['||', '^^', '??']);
const FLAG_CONDITIONAL = /^!?[A-Za-z0-9][A-Za-z0-9+_@-]*\?$/;

/** Parentheses and `flag?` conditionals, shared by SRC_URI and RESTRICT. */
class GroupTracker {
  private depth = 0;
  private conditional: string | undefined;

  constructor(private readonly fail: (message: string) => never) {}

  /** True when `token` is structure (a parenthesis or a conditional), not an operand. */
  take(token: string, position: number): boolean {
    if (token === '(') {
      this.depth++;
      this.conditional = undefined;
      return true;
    }
    if (this.conditional !== undefined) {
      this.fail(`expected '(' after '${this.conditional}', got '${token}' (token ${position})`);
    }
    if (token === ')') {
      if (this.depth === 0) this.fail(`unbalanced ')' (token ${position})`);
      this.depth--;
      return true;
    }
    if (token.length === 2 && OPERATORS.has(token))
      this.fail(`'${token}' is not allowed here (token ${position})`);
    if (token.endsWith('?')) {
      if (!FLAG_CONDITIONAL.test(token)) this.fail(`invalid USE conditional '${token}' (token ${position})`);
      this.conditional = token;
      return true;
    }
    return false;
  }

  end(): void {
    if (this.conditional !== undefined) this.fail(`'${this.conditional}' without '(' at the end`);
    if (this.depth > 0) this.fail(`missing ')' at the end (${this.depth} open)`);
  }
}

/** `renamed`: a `->` follows, whose target names the file if `token` is a URI. */
function operand(token: string, fail: (message: string) => never, renamed: boolean): MutableItem {
  let lifts: UriLift | undefined;
  let uri = token;
  if (token.startsWith('fetch+') && hasScheme(token, 6)) {
    lifts = 'fetch';
    uri = token.slice(6);
  } else if (token.startsWith('mirror+') && hasScheme(token, 7)) {
    lifts = 'mirror';
    uri = token.slice(7);
  }
  // Portage: os.path.basename of the token; a token without a URL scheme is a bare file name.
  const slash = uri.lastIndexOf('/');
  if (slash === uri.length - 1) fail(`'${token}' names no file`);
  const isUri = lifts !== undefined || hasScheme(token, 0);
  // A renamed URI's own last segment is never used (crate lists: one per crate).
  const name = isUri && renamed ? '' : uri.slice(slash + 1);
  if (!isUri) return { name };
  return lifts === undefined ? { name, uri } : { name, uri, lifts };
}

/** As Python's urlparse: a letter, then letters, digits, `+`, `-` or `.`, then `:`. */
function hasScheme(text: string, from: number): boolean {
  const colon = text.indexOf(':', from);
  if (colon <= from) return false;
  for (let i = from; i < colon; i++) {
    const c = text.charCodeAt(i) | 0x20;
    const letter = c >= 0x61 && c <= 0x7a;
    if (i === from ? !letter : !letter && !isSchemeExtra(text.charCodeAt(i))) return false;
  }
  return true;
}

function isSchemeExtra(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

function isPlainName(token: string): boolean {
  return token !== '(' && token !== ')' && token !== '->' && !token.includes('/') && !token.endsWith('?');
}
