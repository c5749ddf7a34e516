// `portcache resolve <name>`: the explain answer for a person.

interface Explained {
  name: string;
  index: {
    ready: boolean;
    known: boolean;
    size?: number | null;
    BLAKE2B?: string | null;
    verifiable?: boolean;
    conflict?: string | null;
    manifests?: Array<{ repos: string[]; size: number; BLAKE2B: string | null }>;
    packages?: Array<{ repo: string; cpv: string; restrict: string[]; uris: string[] }>;
  };
  cache: {
    cached: boolean;
    filling: boolean;
    size?: number;
    matchesIndex?: boolean | string | null;
    matchedManifest?: { repos: string[] } | null;
  };
  refusal: string | null;
  sources: Array<{ kind: string; url?: string; mirrors?: string[]; reason: string }>;
}

export function formatExplained(e: Explained): string {
  const lines = [e.name];
  if (!e.index.ready) lines.push('  index: still being built');
  else if (!e.index.known) lines.push('  index: unknown to every repository');
  else {
    lines.push(
      `  size: ${e.index.size ?? 'unknown'}${e.index.verifiable ? ' (verifiable)' : ' (not verifiable)'}`,
    );
    if (e.index.BLAKE2B) lines.push(`  BLAKE2B: ${e.index.BLAKE2B}`);
    if (e.index.conflict) {
      lines.push(`  conflict: ${e.index.conflict} (bytes matching any of these are accepted)`);
      for (const m of e.index.manifests ?? []) {
        lines.push(`    ${m.repos.join(', ')}: ${m.size} bytes, BLAKE2B ${m.BLAKE2B ?? 'none'}`);
      }
    }
    for (const pkg of e.index.packages ?? []) {
      const restrict = pkg.restrict.length > 0 ? ` RESTRICT=${pkg.restrict.join(',')}` : '';
      lines.push(`  package: ${pkg.cpv}::${pkg.repo}${restrict}`);
      for (const uri of pkg.uris) lines.push(`    ${uri}`);
    }
  }
  const match = e.cache.matchesIndex;
  const verdict =
    match === true
      ? `, matches the Manifest${e.cache.matchedManifest ? ` of ${e.cache.matchedManifest.repos.join(', ')}` : ''}`
      : typeof match === 'string'
        ? `, MISMATCH: ${match}`
        : '';
  lines.push(
    e.cache.cached
      ? `  cached: ${e.cache.size} bytes${verdict}`
      : `  cached: no${e.cache.filling ? ' (filling now)' : ''}`,
  );
  if (e.refusal) lines.push(`  not fetched: ${e.refusal}`);
  e.sources.forEach((step, i) => {
    const where = step.kind === 'mirrors' ? `mirrors ${(step.mirrors ?? []).join(' ')}` : step.url;
    lines.push(`  ${i + 1}. ${where}`, `     ${step.reason}`);
  });
  return lines.join('\n');
}
