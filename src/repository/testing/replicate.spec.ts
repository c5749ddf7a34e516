import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistfileIndex } from '../distfile-index.js';
import { copyFixtures, FIXTURE_REPOS } from './fixture-repos.js';
import { renameInSrcUri, replicateRepo } from './replicate.js';

describe('replicateRepo', () => {
  const cleanup: string[] = [];
  afterAll(async () => {
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  });

  it('prefixes every distfile name of SRC_URI', () => {
    expect(
      renameInSrcUri(
        'mirror+https://x.org/a/v1.tar.gz -> x-1.tar.gz doc? ( https://x.org/doc.pdf ) bare.zip',
        'c7-',
      ),
    ).toBe(
      'mirror+https://x.org/a/c7-v1.tar.gz -> c7-x-1.tar.gz doc? ( https://x.org/c7-doc.pdf ) c7-bare.zip',
    );
  });

  it('copies every category under new names, distfiles renamed alike in md5-cache and Manifest', async () => {
    const { root } = await copyFixtures();
    cleanup.push(root);
    const summary = await replicateRepo(FIXTURE_REPOS.guru, join(root, 'synthetic'), 2);
    expect(summary).toMatchObject({ entries: 945 * 2, manifests: 622 * 2 });
    expect(summary.categories).toContain('games-util-r2');

    const index = new DistfileIndex({
      discovery: { paths: [FIXTURE_REPOS.gentoo, join(root, 'synthetic')] },
    });
    const { snapshot } = await index.refresh();
    await index.close();
    // gentoo-mini names 15 files, the GURU sample 5876, once per copy.
    expect(snapshot.size).toBe(15 + 2 * 5876);
    expect(snapshot.lookup('c2-xone-0.5.8.tar.gz')).toMatchObject({
      size: 81236,
      verifiable: true,
      sources: [
        {
          repo: 'guru',
          cpv: 'games-util-r2/xone-0.5.8',
          uris: [{ url: 'https://github.com/dlundqvist/xone/archive/c2-v0.5.8.tar.gz', lifts: 'mirror' }],
        },
      ],
    });
  });
});
