// The one implementation of the SRC_URI and RESTRICT grammar (PMS dependency strings, without
// USE flags: every conditional branch is taken). It works on UTF-8 bytes so that the index's
// file reader thread can run it from its source text (repository-reader.ts) on md5-cache
// entries as read; parseSrcUri and parseRestrict (src-uri.ts) run it on this thread. So
// depScanner uses nothing from outside its own body.

/** Lift codes in a DepScanner's items: none, `fetch+`, `mirror+`. */
export const LIFT_NONE = 0;
export const LIFT_FETCH = 1;
export const LIFT_MIRROR = 2;

/**
 * Splits `src[from, to)` on spaces, tabs and line ends into `tokens` (start, end pairs), then
 * reads them as SRC_URI, or with `restrict` as RESTRICT. Returns undefined, or the message of
 * what Portage would refuse. `items` gets, for SRC_URI, five numbers per distfile in SRC_URI
 * order, repeats as written: the name's start and end (the `->` target, else the URI's last
 * path segment as written), the URI's start and end without its `fetch+`/`mirror+` prefix (-1,
 * -1 for a bare file name) and the lift (LIFT_*); for RESTRICT, each word's start and end.
 */
export type DepScanner = (
  src: Uint8Array,
  from: number,
  to: number,
  restrict: boolean,
  tokens: number[],
  items: number[],
) => string | undefined;

/**
 * A DepScanner. Its helpers are made once, here, not per call: closures made per entry were
 * most of the reader thread's garbage. Self-contained: it runs on the reader thread from its
 * source text.
 */
export function depScanner(): DepScanner {
  // The arguments of the running call, for the helpers.
  let src: Uint8Array = new Uint8Array(0);
  let tokens: number[] = [];
  const space = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

  // Only for messages: rare, so a decoder per use.
  const text = (k: number): string => new TextDecoder().decode(src.subarray(tokens[k], tokens[k + 1]));
  const is = (k: number, word: string): boolean => {
    const start = tokens[k];
    if (tokens[k + 1] - start !== word.length) return false;
    for (let j = 0; j < word.length; j++) if (src[start + j] !== word.charCodeAt(j)) return false;
    return true;
  };
  const startsWith = (start: number, end: number, word: string): boolean => {
    if (end - start < word.length) return false;
    for (let j = 0; j < word.length; j++) if (src[start + j] !== word.charCodeAt(j)) return false;
    return true;
  };
  const alnum = (c: number): boolean =>
    (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
  // As Python's urlparse: a letter, then letters, digits, `+`, `-` or `.`, then `:`.
  const hasScheme = (start: number, end: number): boolean => {
    let colon = start;
    while (colon < end && src[colon] !== 0x3a) colon++;
    if (colon === end || colon === start) return false;
    for (let i = start; i < colon; i++) {
      const c = src[i];
      const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
      if (i === start ? !letter : !alnum(c) && c !== 0x2b && c !== 0x2d && c !== 0x2e) return false;
    }
    return true;
  };
  // `!?[A-Za-z0-9][A-Za-z0-9+_@-]*\?`
  const isConditional = (start: number, end: number): boolean => {
    let i = src[start] === 0x21 ? start + 1 : start;
    if (i >= end - 1 || !alnum(src[i])) return false;
    for (i++; i < end - 1; i++) {
      const c = src[i];
      if (!alnum(c) && c !== 0x2b && c !== 0x5f && c !== 0x40 && c !== 0x2d) return false;
    }
    return true;
  };
  const scan: DepScanner = (bytes, from, to, restrict, tokenList, items) => {
    src = bytes;
    tokens = tokenList;
    tokens.length = 0;
    items.length = 0;
    for (let i = from; i < to; ) {
      while (i < to && space(src[i])) i++;
      const start = i;
      while (i < to && !space(src[i])) i++;
      if (i > start) tokens.push(start, i);
    }
    let depth = 0;
    /** The pending `flag?` token, or -1. */
    let conditional = -1;
    /** The last item if it is a URI that a `->` may rename, or -1. */
    let renamable = -1;
    let awaitingName = false;
    for (let k = 0; k < tokens.length; k += 2) {
      const position = k / 2 + 1;
      const start = tokens[k];
      const end = tokens[k + 1];
      if (awaitingName) {
        let slash = start;
        while (slash < end && src[slash] !== 0x2f) slash++;
        if (is(k, '(') || is(k, ')') || is(k, '->') || slash < end || src[end - 1] === 0x3f)
          return `expected a file name after '->', got '${text(k)}' (token ${position})`;
        items[renamable] = start;
        items[renamable + 1] = end;
        renamable = -1;
        awaitingName = false;
        continue;
      }
      if (!restrict && is(k, '->')) {
        if (renamable < 0) return `'->' must follow a URI (token ${position})`;
        awaitingName = true;
        continue;
      }
      renamable = -1;
      // Parentheses and `flag?` conditionals.
      if (is(k, '(')) {
        depth++;
        conditional = -1;
        continue;
      }
      if (conditional >= 0)
        return `expected '(' after '${text(conditional)}', got '${text(k)}' (token ${position})`;
      if (is(k, ')')) {
        if (depth === 0) return `unbalanced ')' (token ${position})`;
        depth--;
        continue;
      }
      if (is(k, '||') || is(k, '^^') || is(k, '??'))
        return `'${text(k)}' is not allowed here (token ${position})`;
      if (src[end - 1] === 0x3f) {
        if (!isConditional(start, end)) return `invalid USE conditional '${text(k)}' (token ${position})`;
        conditional = k;
        continue;
      }
      if (restrict) {
        if (is(k, '->')) return `'->' is not allowed in RESTRICT (token ${position})`;
        items.push(start, end);
        continue;
      }
      let lift = 0;
      let uri = start;
      if (startsWith(start, end, 'fetch+') && hasScheme(start + 6, end)) {
        lift = 1;
        uri = start + 6;
      } else if (startsWith(start, end, 'mirror+') && hasScheme(start + 7, end)) {
        lift = 2;
        uri = start + 7;
      }
      // Portage: os.path.basename of the token; a token without a URL scheme is a bare file name.
      let name = end;
      while (name > uri && src[name - 1] !== 0x2f) name--;
      if (name === end) return `'${text(k)}' names no file`;
      const isUri = lift !== 0 || hasScheme(start, end);
      // A renamed URI's own last segment is never used (crate lists: one per crate).
      if (isUri && k + 2 < tokens.length && is(k + 2, '->')) name = end;
      if (isUri) renamable = items.length;
      items.push(name, end, isUri ? uri : -1, isUri ? end : -1, lift);
    }
    if (awaitingName) return `missing file name after '->' at the end`;
    if (conditional >= 0) return `'${text(conditional)}' without '(' at the end`;
    if (depth > 0) return `missing ')' at the end (${depth} open)`;
    return undefined;
  };
  return scan;
}
