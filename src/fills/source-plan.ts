import type { DistfileEntry, DistfileSource } from '../repository/distfile-snapshot.js';

/** One place a miss may be fetched from, with why it is on the list. */
export type SourceStep =
  | { readonly kind: 'mirrors'; readonly reason: string }
  | { readonly kind: 'uri'; readonly url: string; readonly reason: string };

export interface SourcePlan {
  readonly steps: readonly SourceStep[];
  /** Set when the file must never be fetched (fetch restriction): what the admin should do. */
  readonly refusal?: string;
}

const GENTOO_MIRROR = 'mirror://gentoo/';

/**
 * Where a miss is fetched from, in order:
 * - a file of ::gentoo that is not mirror- or fetch-restricted: the configured mirrors, then its SRC_URIs
 *   (SRC_URIs first under RESTRICT=primaryuri);
 * - a file known only to overlays, or mirror-restricted: its SRC_URIs (Gentoo mirrors don't carry it);
 * - `mirror://gentoo/...`: the configured mirrors, with their layouts;
 * - fetch-restricted without a `fetch+`/`mirror+` URI: nowhere (refusal);
 * - unknown to every repository: the configured mirrors only.
 * Only these URLs are ever fetched: portcache is not an open proxy.
 */
export function planSources(name: string, entry: DistfileEntry | undefined): SourcePlan {
  if (!entry || entry.sources.length === 0) {
    return { steps: [{ kind: 'mirrors', reason: 'unknown to every repository: Gentoo mirrors only' }] };
  }
  const onMirrors = entry.sources.find(
    (source) => source.repo === 'gentoo' && !source.restrict.mirror && !source.restrict.fetch,
  );
  const steps: SourceStep[] = [];
  const seen = new Set<string>();
  const addMirrors = (reason: string) => {
    if (seen.has(GENTOO_MIRROR)) return;
    seen.add(GENTOO_MIRROR);
    steps.push({ kind: 'mirrors', reason });
  };
  const mirrorsFirst = onMirrors && !onMirrors.restrict.primaryuri;
  if (mirrorsFirst) addMirrors(`${onMirrors.cpv}::gentoo is not mirror-restricted: Gentoo mirrors carry it`);

  const restricted: DistfileSource[] = [];
  for (const source of entry.sources) {
    const usable = source.restrict.fetch ? source.uris.filter((uri) => uri.lifts) : source.uris;
    if (source.restrict.fetch && usable.length === 0) restricted.push(source);
    const where = `${source.cpv}::${source.repo}`;
    for (const uri of usable) {
      if (uri.url.startsWith(GENTOO_MIRROR)) {
        addMirrors(`SRC_URI of ${where} is ${uri.url}: the configured mirrors`);
        continue;
      }
      if (seen.has(uri.url)) continue;
      seen.add(uri.url);
      const lifted = uri.lifts ? ` (${uri.lifts}+ lifts RESTRICT=fetch)` : '';
      steps.push({ kind: 'uri', url: uri.url, reason: `SRC_URI of ${where}${lifted}` });
    }
  }
  if (onMirrors && !mirrorsFirst)
    addMirrors(`${onMirrors.cpv}::gentoo has RESTRICT=primaryuri: mirrors after SRC_URI`);
  if (steps.length > 0) return { steps };
  if (restricted.length > 0) {
    const packages = restricted.map((source) => `${source.cpv}::${source.repo}`).join(', ');
    return {
      steps,
      refusal: `${name} is fetch-restricted (RESTRICT=fetch in ${packages}): download it yourself and add it with \`portcache import ${name}\``,
    };
  }
  return { steps: [{ kind: 'mirrors', reason: 'no SRC_URI names a URL for it: Gentoo mirrors only' }] };
}
