/** `profiles/thirdpartymirrors`: mirror name → base URLs, in file order. */
export type MirrorTable = ReadonlyMap<string, readonly string[]>;

/**
 * `NAME url url ...` lines; `#` starts a comment; a line with a name only is skipped; a name
 * listed twice collects both lists (Portage's grabdict). `-url` and `-*` are kept for stacking.
 */
export function parseThirdpartyMirrors(text: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const words: string[] = [];
    for (const word of line.split(/\s+/)) {
      if (word.startsWith('#')) break;
      if (word !== '') words.push(word);
    }
    if (words.length < 2) continue;
    const [name, ...urls] = words;
    const list = table.get(name);
    if (list) list.push(...urls);
    else table.set(name, urls);
  }
  return table;
}

/**
 * Stacks tables from lowest to highest priority (masters first, the repository itself last),
 * as Portage's stack_dictlist(incremental=True): lists of one name are concatenated without
 * repeats, `-url` removes that URL and `-*` everything stacked so far.
 */
export function stackMirrorTables(tables: readonly MirrorTable[]): Map<string, string[]> {
  const stacked = new Map<string, string[]>();
  for (const table of tables) {
    for (const [name, urls] of table) {
      let list = stacked.get(name) ?? [];
      for (const url of urls) {
        if (url === '-*') list = [];
        else if (url.startsWith('-')) list = list.filter((kept) => kept !== url.slice(1));
        else if (!list.includes(url)) list.push(url);
      }
      if (list.length > 0) stacked.set(name, list);
      else stacked.delete(name);
    }
  }
  return stacked;
}

/** `mirror://NAME/path` → NAME and path; undefined for anything else (including no path). */
export function splitMirrorUri(uri: string): { name: string; path: string } | undefined {
  if (!uri.startsWith('mirror://')) return undefined;
  const slash = uri.indexOf('/', 9);
  if (slash <= 9) return undefined;
  return { name: uri.slice(9, slash), path: uri.slice(slash + 1) };
}

/**
 * The URLs `mirror://NAME/path` stands for: `<base>/path` per base URL of NAME. Undefined when
 * NAME is not in the table (the caller reports it); other URIs are returned as they are.
 */
export function expandMirrorUri(uri: string, table: MirrorTable): string[] | undefined {
  const mirror = splitMirrorUri(uri);
  if (!mirror) return uri.startsWith('mirror://') ? undefined : [uri];
  const bases = table.get(mirror.name);
  if (!bases) return undefined;
  return bases.map((base) => `${base.replace(/\/+$/, '')}/${mirror.path}`);
}
