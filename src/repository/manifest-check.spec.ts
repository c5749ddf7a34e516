import { describe, expect, it } from 'vitest';
import type { Digests } from '../cache/digests.js';
import type { DistfileEntry, ManifestEntry } from './distfile-snapshot.js';
import { manifestMismatch, manifestSizes, matchingManifest } from './manifest-check.js';

const hex = (c: string) => c.repeat(128);
const GENTOO: ManifestEntry = { repos: ['gentoo'], size: 1000, BLAKE2B: hex('a'), SHA512: hex('b') };
const OVERLAY: ManifestEntry = { repos: ['my-overlay'], size: 1200, BLAKE2B: hex('c') };

function entry(...manifests: ManifestEntry[]): DistfileEntry {
  const verifiable = manifests.some((line) => line.BLAKE2B !== undefined || line.SHA512 !== undefined);
  const agreed = manifests.length === 1 ? manifests[0] : undefined;
  return {
    name: 'tool-1.0.tar.gz',
    ...(agreed && { size: agreed.size, BLAKE2B: agreed.BLAKE2B, SHA512: agreed.SHA512 }),
    verifiable,
    ...(manifests.length > 1 && { conflict: 'Manifests disagree about tool-1.0.tar.gz: …' }),
    manifests,
    sources: [],
  };
}

const bytes = (size: number, blake2b: string, sha512: string): Digests => ({
  size,
  BLAKE2B: blake2b,
  SHA512: sha512,
});

describe('manifestMismatch, matchingManifest and manifestSizes', () => {
  it('accepts bytes that match the one Manifest entry', () => {
    const one = entry(GENTOO);
    expect(manifestMismatch(bytes(1000, hex('a'), hex('b')), one)).toBeUndefined();
    expect(matchingManifest(bytes(1000, hex('a'), hex('b')), one)).toBe(GENTOO);
    expect(manifestSizes(one)).toEqual(new Set([1000]));
  });

  it('says which part of the one entry differs', () => {
    const one = entry(GENTOO);
    expect(manifestMismatch(bytes(999, hex('a'), hex('b')), one)).toBe("size 999 is not the Manifest's 1000");
    expect(manifestMismatch(bytes(1000, hex('0'), hex('b')), one)).toBe(
      'BLAKE2B does not match the Manifest',
    );
    expect(manifestMismatch(bytes(1000, hex('a'), hex('0')), one)).toBe('SHA512 does not match the Manifest');
    expect(matchingManifest(bytes(1000, hex('a'), hex('0')), one)).toBeUndefined();
  });

  it('accepts bytes matching either of two disagreeing entries, checking only the digests each has', () => {
    const both = entry(GENTOO, OVERLAY);
    expect(both.verifiable).toBe(true);
    expect(matchingManifest(bytes(1000, hex('a'), hex('b')), both)).toBe(GENTOO);
    expect(manifestMismatch(bytes(1000, hex('a'), hex('b')), both)).toBeUndefined();
    // The overlay's line has no SHA512: any is fine.
    expect(matchingManifest(bytes(1200, hex('c'), hex('9')), both)).toBe(OVERLAY);
    expect(manifestMismatch(bytes(1200, hex('c'), hex('9')), both)).toBeUndefined();
    expect(manifestSizes(both)).toEqual(new Set([1000, 1200]));
  });

  it('names every entry when bytes match none of them', () => {
    const both = entry(GENTOO, OVERLAY);
    expect(manifestMismatch(bytes(1100, hex('a'), hex('b')), both)).toBe(
      'matches none of 2 Manifest entries (gentoo: 1000 bytes, my-overlay: 1200 bytes)',
    );
    // Right size, digest of the other entry: still no match.
    expect(manifestMismatch(bytes(1200, hex('a'), hex('b')), both)).toBe(
      'matches none of 2 Manifest entries (gentoo: 1000 bytes, my-overlay: 1200 bytes but another BLAKE2B)',
    );
    expect(matchingManifest(bytes(1200, hex('a'), hex('b')), both)).toBeUndefined();
    const shared = entry({ ...GENTOO, repos: ['gentoo', 'guru'] }, OVERLAY);
    expect(manifestMismatch(bytes(1, hex('a'), hex('b')), shared)).toBe(
      'matches none of 2 Manifest entries (gentoo+guru: 1000 bytes, my-overlay: 1200 bytes)',
    );
  });

  it('does not take a size-only line as a candidate', () => {
    const half = entry({ repos: ['gentoo'], size: 5 }, OVERLAY);
    expect(half.verifiable).toBe(true);
    expect(matchingManifest(bytes(5, hex('0'), hex('0')), half)).toBeUndefined();
    expect(manifestMismatch(bytes(5, hex('0'), hex('0')), half)).toBe("size 5 is not the Manifest's 1200");
    expect(manifestSizes(half)).toEqual(new Set([1200]));
  });

  it('cannot tell anything without a verifiable entry', () => {
    const sizesOnly = entry({ repos: ['gentoo'], size: 5 }, { repos: ['my-overlay'], size: 6 });
    for (const unverifiable of [undefined, entry(), sizesOnly]) {
      expect(unverifiable?.verifiable ?? false).toBe(false);
      expect(manifestMismatch(bytes(7, hex('0'), hex('0')), unverifiable)).toBeUndefined();
      expect(matchingManifest(bytes(5, hex('0'), hex('0')), unverifiable)).toBeUndefined();
      expect(manifestSizes(unverifiable)).toEqual(new Set());
    }
  });
});
