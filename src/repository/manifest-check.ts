import type { Digests } from '../cache/digests.js';
import type { DistfileEntry } from './distfile-snapshot.js';

/**
 * Why bytes with these digests are not the file the Manifest describes; undefined when they
 * are, or when the Manifest cannot tell (unknown or conflicting entry). A string comparison:
 * nothing is hashed here.
 */
export function manifestMismatch(digests: Digests, entry: DistfileEntry | undefined): string | undefined {
  if (!entry?.verifiable) return undefined;
  if (entry.size !== undefined && digests.size !== entry.size) {
    return `size ${digests.size} is not the Manifest's ${entry.size}`;
  }
  if (entry.BLAKE2B !== undefined && digests.BLAKE2B !== entry.BLAKE2B)
    return 'BLAKE2B does not match the Manifest';
  if (entry.SHA512 !== undefined && digests.SHA512 !== entry.SHA512)
    return 'SHA512 does not match the Manifest';
  return undefined;
}
