import type { Digests } from '../cache/digests.js';
import type { DistfileEntry, ManifestEntry } from './distfile-snapshot.js';

// String comparisons of recorded digests with the index: nothing is hashed here.

/** A DIST line with a size only cannot tell a file from another of that size. */
function canVerify(line: ManifestEntry): boolean {
  return line.BLAKE2B !== undefined || line.SHA512 !== undefined;
}

function matches(digests: Digests, line: ManifestEntry): boolean {
  return (
    digests.size === line.size &&
    (line.BLAKE2B === undefined || digests.BLAKE2B === line.BLAKE2B) &&
    (line.SHA512 === undefined || digests.SHA512 === line.SHA512)
  );
}

function candidates(entry: DistfileEntry | undefined): readonly ManifestEntry[] {
  return entry?.verifiable ? entry.manifests.filter(canVerify) : [];
}

/** The Manifest entry these digests match (size and every digest it has), or undefined. */
export function matchingManifest(
  digests: Digests,
  entry: DistfileEntry | undefined,
): ManifestEntry | undefined {
  return candidates(entry).find((line) => matches(digests, line));
}

/**
 * Why bytes with these digests are not the file; undefined when they match any Manifest entry
 * (repositories may disagree, each is taken at its word), or when no Manifest can verify it.
 */
export function manifestMismatch(digests: Digests, entry: DistfileEntry | undefined): string | undefined {
  const lines = candidates(entry);
  if (lines.length === 0 || lines.some((line) => matches(digests, line))) return undefined;
  if (lines.length === 1) {
    const [line] = lines;
    if (digests.size !== line.size) return `size ${digests.size} is not the Manifest's ${line.size}`;
    return `${differingDigest(digests, line)} does not match the Manifest`;
  }
  const claims = lines.map((line) => {
    const which = digests.size === line.size ? ` but another ${differingDigest(digests, line)}` : '';
    return `${line.repos.join('+')}: ${line.size} bytes${which}`;
  });
  return `matches none of ${lines.length} Manifest entries (${claims.join(', ')})`;
}

/** Sizes a verifiable file may have (one per distinct Manifest entry with digests); empty when not verifiable. */
export function manifestSizes(entry: DistfileEntry | undefined): ReadonlySet<number> {
  return new Set(candidates(entry).map((line) => line.size));
}

/** Of a line of the right size that the digests do not match. */
function differingDigest(digests: Digests, line: ManifestEntry): 'BLAKE2B' | 'SHA512' {
  return line.BLAKE2B !== undefined && digests.BLAKE2B !== line.BLAKE2B ? 'BLAKE2B' : 'SHA512';
}
