import { createHash } from 'node:crypto';

/** A GLEP 75 mirror layout: where a distfile lives below `<mirror>/distfiles/`. */
export type Layout = { kind: 'flat' } | { kind: 'filename-hash'; algorithm: string; cutoffs: number[] };

export const FLAT: Layout = { kind: 'flat' };
export const BLAKE2B_8: Layout = { kind: 'filename-hash', algorithm: 'BLAKE2B', cutoffs: [8] };

/** What portcache itself advertises: hashed first, flat as the fallback for old clients. */
export const SERVED_LAYOUT_CONF = '[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n';

/** Portage's checksum names that node:crypto can compute. */
const NODE_HASHES: Record<string, string> = {
  MD5: 'md5',
  SHA1: 'sha1',
  SHA256: 'sha256',
  SHA512: 'sha512',
  BLAKE2B: 'blake2b512',
  BLAKE2S: 'blake2s256',
  SHA3_256: 'sha3-256',
  SHA3_512: 'sha3-512',
  RMD160: 'ripemd160',
};

/**
 * Parses a layout.conf as Portage does: the first entry of `[structure]` (keys 0, 1, ...)
 * that is supported wins; nothing usable means flat.
 */
export function parseLayoutConf(text: string): Layout {
  const entries = new Map<number, string>();
  let section = '';
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const kv = /^(\d+)\s*[=:]\s*(.*)$/.exec(line);
    if (section === 'structure' && kv) entries.set(Number(kv[1]), kv[2].trim());
  }
  for (const key of [...entries.keys()].sort((a, b) => a - b)) {
    const layout = parseLayoutEntry(entries.get(key) as string);
    if (layout) return layout;
  }
  return FLAT;
}

function parseLayoutEntry(entry: string): Layout | undefined {
  const args = entry.split(/\s+/);
  if (args[0] === 'flat' && args.length === 1) return FLAT;
  if (args[0] !== 'filename-hash' || args.length !== 3 || !NODE_HASHES[args[1]]) return undefined;
  const cutoffs = args[2].split(':').map(Number);
  if (cutoffs.some((c) => !Number.isInteger(c) || c < 0 || c % 4 !== 0 || c > 64)) return undefined;
  return { kind: 'filename-hash', algorithm: args[1], cutoffs };
}

/** The path of `name` below `distfiles/`, not URL-encoded. */
export function layoutPath(layout: Layout, name: string): string {
  if (layout.kind === 'flat') return name;
  let hash = createHash(NODE_HASHES[layout.algorithm]).update(name, 'utf8').digest('hex');
  let path = '';
  for (const bits of layout.cutoffs) {
    path += `${hash.slice(0, bits / 4)}/`;
    hash = hash.slice(bits / 4);
  }
  return path + name;
}

/** The 2-hex-digit directory portcache's own `filename-hash BLAKE2B 8` puts `name` in. */
export function blake2bPrefix(name: string): string {
  return createHash('blake2b512').update(name, 'utf8').digest('hex').slice(0, 2);
}
