import type { Digests } from '../cache/digests.js';

/** An import of a file no Manifest can verify, without `unverified`; nothing was kept. */
export class ImportUnverified extends Error {}

export interface ImportOptions {
  /** Accept a file no Manifest can verify (else ImportUnverified). */
  unverified?: boolean;
}

export interface ImportResult {
  digests: Digests;
  /** A Manifest entry matched the bytes. */
  verified: boolean;
  /** The cache held these very bytes already: nothing was rewritten. */
  alreadyCached: boolean;
}

export function unverifiedMessage(name: string): string {
  return (
    `${name}: no Manifest of the indexed repositories can verify it; import it unverified ` +
    '(portcache import --unverified, or ?unverified=1) only if you trust it'
  );
}

export function sameDigests(a: Digests | undefined, b: Digests): boolean {
  return a !== undefined && a.size === b.size && a.BLAKE2B === b.BLAKE2B && a.SHA512 === b.SHA512;
}
