import { LiftedUris, type UrisValue, urisOf } from './distfile-records.js';
import type { SrcUriItem, UriLift } from './src-uri.js';

// From parsed md5-cache entries and Manifests to what the index keeps.

/**
 * One value per distinct name, URIs in SRC_URI order, exact repeats (same name, URI and lift)
 * dropped. Most names come once: no array for them.
 */
export function filesOf(items: readonly SrcUriItem[]): { names: string[]; uris: UrisValue[] } {
  const names: string[] = [];
  const uris: UrisValue[] = [];
  // A Map only for long lists: most entries name a few files, and a Map per entry adds up.
  const at = items.length > 16 ? new Map<string, number>() : undefined;
  for (const item of items) {
    const i = at ? at.get(item.name) : indexIn(names, item.name);
    if (i === undefined) {
      at?.set(item.name, names.length);
      names.push(item.name);
      uris.push(item.lifts === undefined ? item.uri : new LiftedUris([item.uri as string], [item.lifts]));
    } else if (item.uri !== undefined && !hasUri(uris[i], item.uri, item.lifts)) {
      uris[i] = appendUri(uris[i], item.uri, item.lifts);
    }
  }
  return { names, uris };
}

function indexIn(names: readonly string[], name: string): number | undefined {
  for (let i = 0; i < names.length; i++) if (names[i] === name) return i;
  return undefined;
}

function hasUri(value: UrisValue, uri: string, lift: UriLift | undefined): boolean {
  if (value === uri) return lift === undefined;
  if (value === undefined || typeof value === 'string') return false;
  const { uris, lifts } = urisOf(value);
  for (let k = 0; k < uris.length; k++) if (uris[k] === uri && lifts?.[k] === lift) return true;
  return false;
}

function appendUri(value: UrisValue, uri: string, lift: UriLift | undefined): UrisValue {
  const { uris, lifts } = urisOf(value);
  if (lift === undefined && lifts === undefined) return [...uris, uri];
  return new LiftedUris([...uris, uri], [...(lifts ?? uris.map(() => undefined)), lift]);
}
