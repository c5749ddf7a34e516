import { readdirSync, readFileSync } from 'node:fs';
import { rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistfileIndex } from './distfile-index.js';
import type { DistfileEntry, DistfileSnapshot } from './distfile-snapshot.js';
import { parseMd5CacheEntry } from './md5-cache.js';
import { parseSrcUri } from './src-uri.js';
import {
  CountingReader,
  collectingLogger,
  copyFixtures,
  FIXTURE_REPOS,
  writeRepo,
} from './testing/fixture-repos.js';
import { expandMirrorUri, splitMirrorUri } from './thirdpartymirrors.js';

const NO_RESTRICT = { fetch: false, mirror: false, primaryuri: false };
const MIRROR = { fetch: false, mirror: true, primaryuri: false };
const FETCH = { fetch: true, mirror: false, primaryuri: false };

// Every literal below is copied from the fixture files (md5-cache entries and Manifests).
describe('DistfileIndex on the GURU and gentoo-mini fixtures', () => {
  const logger = collectingLogger();
  const index = new DistfileIndex({
    discovery: { paths: [FIXTURE_REPOS.gentoo, FIXTURE_REPOS.guru] },
    logger,
  });
  const lookup = (name: string) => index.lookup(name) as DistfileEntry;

  beforeAll(async () => {
    await index.refresh();
  });

  afterAll(() => index.close());

  it('indexes every name of every SRC_URI and DIST line', () => {
    // Counted independently: 5886 SRC_URI names and 5881 DIST names, 5891 together.
    expect(index.snapshot?.size).toBe(5891);
  });

  it('applies a rename after a mirror+ URI; RESTRICT=mirror', () => {
    expect(lookup('xone-0.5.8.tar.gz')).toEqual({
      name: 'xone-0.5.8.tar.gz',
      size: 81236,
      BLAKE2B:
        '7e0b6e79a5361bd556ea2ab75f06015ba0ec832969843f2d34c01ad46bd009c9356bdb711690d4be4981364e5523b494599389c7e54cf29740acd687b7f59940',
      SHA512:
        'ae63a10b2768f6b8495c89e1b39c4a5aaa16837c6ffdf18a2ea6ace8835e961397484e320ee206062fb979bff8217e4651ac901acac082bc42512d542a7be6ce',
      verifiable: true,
      manifests: [
        {
          repos: ['guru'],
          size: 81236,
          BLAKE2B:
            '7e0b6e79a5361bd556ea2ab75f06015ba0ec832969843f2d34c01ad46bd009c9356bdb711690d4be4981364e5523b494599389c7e54cf29740acd687b7f59940',
          SHA512:
            'ae63a10b2768f6b8495c89e1b39c4a5aaa16837c6ffdf18a2ea6ace8835e961397484e320ee206062fb979bff8217e4651ac901acac082bc42512d542a7be6ce',
        },
      ],
      sources: [
        {
          repo: 'guru',
          cpv: 'games-util/xone-0.5.8',
          uris: [{ url: 'https://github.com/dlundqvist/xone/archive/v0.5.8.tar.gz', lifts: 'mirror' }],
          restrict: MIRROR,
        },
      ],
    });
    expect(lookup('xone-firmware-02fe.cab').sources).toEqual([
      {
        repo: 'guru',
        cpv: 'games-util/xone-0.5.8',
        uris: [
          {
            url: 'https://catalog.s.download.windowsupdate.com/d/msdownload/update/driver/drvs/2017/03/2ea9591b-f751-442c-80ce-8f4692cdc67b_6b555a3a288153cf04aec6e03cba360afe2fce34.cab',
          },
        ],
        restrict: MIRROR,
      },
    ]);
    expect(lookup('xone-firmware-02fe.cab').size).toBe(216868);
  });

  it('takes renames inside USE conditionals, every branch', () => {
    expect(lookup('1password-cli-2.35.0-amd64.zip')).toEqual({
      name: '1password-cli-2.35.0-amd64.zip',
      size: 14660621,
      BLAKE2B:
        'ba33f8adb5ad94a707cb1c59f42ca821a1afd313b2e662e234fddf630683eb341ba8912ddfc388aafd16d560a38660b50f518680d1c07bfec2374baf9fb4625b',
      SHA512:
        '7292ea53090662c48bd338ed5e05868cb175f8ed4cb8979f94d90a25ef770d75dde9d6c8aa87056d936834e08009411f252704278a2211115f96c4d8fc95eab2',
      verifiable: true,
      manifests: [
        {
          repos: ['guru'],
          size: 14660621,
          BLAKE2B:
            'ba33f8adb5ad94a707cb1c59f42ca821a1afd313b2e662e234fddf630683eb341ba8912ddfc388aafd16d560a38660b50f518680d1c07bfec2374baf9fb4625b',
          SHA512:
            '7292ea53090662c48bd338ed5e05868cb175f8ed4cb8979f94d90a25ef770d75dde9d6c8aa87056d936834e08009411f252704278a2211115f96c4d8fc95eab2',
        },
      ],
      sources: [
        {
          repo: 'guru',
          cpv: 'app-misc/1password-cli-2.35.0',
          uris: [{ url: 'https://cache.agilebits.com/dist/1P/op2/pkg/v2.35.0/op_linux_amd64_v2.35.0.zip' }],
          restrict: NO_RESTRICT,
        },
      ],
    });
    expect(lookup('1password-cli-2.35.0-arm64.zip').sources[0].uris).toEqual([
      { url: 'https://cache.agilebits.com/dist/1P/op2/pkg/v2.35.0/op_linux_arm64_v2.35.0.zip' },
    ]);
    expect(lookup('1password-cli-2.35.0-arm64.zip').size).toBe(13603736);
  });

  it('takes nested conditionals: amd64? ( !qt6? ( ... ) qt6? ( ... ) ) x86? ( ... )', () => {
    const release = 'https://github.com/doublecmd/doublecmd/releases/download/v1.2.6';
    expect(
      [
        'doublecmd-1.2.6.gtk2.x86_64.tar.xz',
        'doublecmd-1.2.6.qt6.x86_64.tar.xz',
        'doublecmd-1.2.6.gtk2.i386.tar.xz',
      ].map((name) => [lookup(name).size, lookup(name).sources.map((source) => [source.cpv, source.uris])]),
    ).toEqual([
      [
        9489192,
        [['app-misc/doublecmd-bin-1.2.6', [{ url: `${release}/doublecmd-1.2.6.gtk2.x86_64.tar.xz` }]]],
      ],
      [
        9945744,
        [['app-misc/doublecmd-bin-1.2.6', [{ url: `${release}/doublecmd-1.2.6.qt6.x86_64.tar.xz` }]]],
      ],
      [9258508, [['app-misc/doublecmd-bin-1.2.6', [{ url: `${release}/doublecmd-1.2.6.gtk2.i386.tar.xz` }]]]],
    ]);
  });

  it('expands mirror:// with the thirdpartymirrors of the master repository', () => {
    expect(lookup('openbgpd-8.5.tar.gz')).toMatchObject({
      size: 848032,
      BLAKE2B:
        '74bfaa718000aa5329b2d70cc86869606107bc061f858655678c9734a403ddb521e66b195b649b3e09f42d07098081218963e929389a55d43b4424bf14f81bf4',
      verifiable: true,
      sources: [
        {
          repo: 'guru',
          cpv: 'net-misc/openbgpd-8.5',
          uris: [{ url: 'https://mirrors.evowise.com/pub/OpenBSD/OpenBGPD/openbgpd-8.5.tar.gz' }],
          restrict: NO_RESTRICT,
        },
      ],
    });
    const pool = 'pool/main/p/python-gnuplot/python-gnuplot_1.8-8.debian.tar.xz';
    expect(lookup('python-gnuplot_1.8-8.debian.tar.xz').sources).toEqual([
      {
        repo: 'guru',
        cpv: 'dev-python/gnuplot-py-1.8_p8-r1',
        uris: [
          { url: `http://deb.debian.org/debian/${pool}` },
          { url: `http://ftp.au.debian.org/debian/${pool}` },
          { url: `http://ftp.at.debian.org/debian/${pool}` },
          { url: `http://ftp.de.debian.org/debian/${pool}` },
          { url: `http://ftp.us.debian.org/debian/${pool}` },
        ],
        restrict: NO_RESTRICT,
      },
    ]);
    expect(lookup('python-gnuplot_1.8-8.debian.tar.xz').size).toBe(13304);
  });

  it('keeps a bare file name of a RESTRICT=fetch package without URIs', () => {
    expect(lookup('GUIGuider-2.0.0-amd64.deb')).toEqual({
      name: 'GUIGuider-2.0.0-amd64.deb',
      size: 209098816,
      BLAKE2B:
        'ef444233a2e6d92b81142f2df1f85be4778a6efe13f965cda15e750f42a6bcd7908e18f471cfffec20eaaea840a3294f7115c2999f3bc07e717f2ae5bb344987',
      SHA512:
        'f4b5d9f06ce93bc6d7d826ca39b597d2b0a7f21be3fcade49a37a5f17fd0c4b1b8995f6f1ba10bf5882e2d3413f169a6d8dcfccc9c17403cc38974c62ca390c1',
      verifiable: true,
      manifests: [
        {
          repos: ['guru'],
          size: 209098816,
          BLAKE2B:
            'ef444233a2e6d92b81142f2df1f85be4778a6efe13f965cda15e750f42a6bcd7908e18f471cfffec20eaaea840a3294f7115c2999f3bc07e717f2ae5bb344987',
          SHA512:
            'f4b5d9f06ce93bc6d7d826ca39b597d2b0a7f21be3fcade49a37a5f17fd0c4b1b8995f6f1ba10bf5882e2d3413f169a6d8dcfccc9c17403cc38974c62ca390c1',
        },
      ],
      sources: [{ repo: 'guru', cpv: 'dev-embedded/nxp-gui-guider-2.0.0', uris: [], restrict: FETCH }],
    });
  });

  it('reports RESTRICT=mirror', () => {
    expect(lookup('chayang-0.1.0.tar.gz')).toMatchObject({
      size: 10508,
      SHA512:
        '62924d1cf66b43882672f917499e4e73ca221bc1fbeaee2ac3efb9969a5d022c0d414d043b50905a619b9963bf5281b735e4903cfaa68b794c03b46f569aab02',
      sources: [
        {
          cpv: 'app-misc/chayang-0.1.0',
          uris: [{ url: 'https://git.sr.ht/~emersion/chayang/archive/v0.1.0.tar.gz' }],
          restrict: MIRROR,
        },
      ],
    });
  });

  it('merges one file named by several packages, with two agreeing Manifests', () => {
    const url = 'https://static.crates.io/crates/ab_glyph_rasterizer/ab_glyph_rasterizer-0.1.8.crate';
    expect(lookup('ab_glyph_rasterizer-0.1.8.crate')).toEqual({
      name: 'ab_glyph_rasterizer-0.1.8.crate',
      size: 11010,
      BLAKE2B:
        '2a20fd3ff646559d704e214ae7c4e5b8297e20be0909c403c140edb67002665447a6a796e5ca5d71f5c8c55000489a14a101ec43dd90101be9c246d1a0138dc4',
      SHA512:
        '6fd5ff2d068da84c4ac2e6e2c5ad6ab2f4926f1664afb8ba701b60a35c3bd7bf00b200b22c455ca15dfc7d4303c8caa0bb150c18dcce01ce107deaf323cde17f',
      verifiable: true,
      manifests: [
        {
          repos: ['guru'],
          size: 11010,
          BLAKE2B:
            '2a20fd3ff646559d704e214ae7c4e5b8297e20be0909c403c140edb67002665447a6a796e5ca5d71f5c8c55000489a14a101ec43dd90101be9c246d1a0138dc4',
          SHA512:
            '6fd5ff2d068da84c4ac2e6e2c5ad6ab2f4926f1664afb8ba701b60a35c3bd7bf00b200b22c455ca15dfc7d4303c8caa0bb150c18dcce01ce107deaf323cde17f',
        },
      ],
      sources: [
        { repo: 'guru', cpv: 'media-gfx/sic-0.22.4', uris: [{ url }], restrict: NO_RESTRICT },
        { repo: 'guru', cpv: 'media-gfx/silicon-0.5.2-r1', uris: [{ url }], restrict: MIRROR },
        { repo: 'guru', cpv: 'media-gfx/silicon-0.5.2-r2', uris: [{ url }], restrict: MIRROR },
        { repo: 'guru', cpv: 'media-gfx/silicon-0.5.3', uris: [{ url }], restrict: MIRROR },
      ],
    });
  });

  it("gives every package the URIs of its own SRC_URI entry, not another package's", () => {
    const snapshot = index.snapshot as DistfileSnapshot;
    let checked = 0;
    for (const repo of snapshot.repositories) {
      const root = join(repo.location, 'metadata/md5-cache');
      for (const category of readdirSync(root)) {
        for (const pf of readdirSync(join(root, category))) {
          const items = parseSrcUri(parseMd5CacheEntry(readFileSync(join(root, category, pf))).SRC_URI ?? '');
          for (const name of new Set(items.map((item) => item.name))) {
            // As DistfileSnapshot expands them: mirror://gentoo kept, other mirrors expanded.
            const expected = new Set<string>();
            for (const { uri } of items.filter((item) => item.name === name && item.uri !== undefined)) {
              const own = splitMirrorUri(uri as string)?.name === 'gentoo' ? [uri as string] : undefined;
              for (const url of own ?? expandMirrorUri(uri as string, repo.mirrors) ?? []) expected.add(url);
            }
            const source = lookup(name).sources.find(
              (s) => s.repo === repo.name && s.cpv === `${category}/${pf}`,
            );
            expect(
              source?.uris.map((uri) => uri.url),
              `${name} of ${category}/${pf}`,
            ).toEqual([...expected]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  describe('gentoo-mini, assembled from different commits', () => {
    it('indexes an entry without DIST line, unverifiable', () => {
      expect(lookup('xz-5.6.3.tar.gz')).toEqual({
        name: 'xz-5.6.3.tar.gz',
        verifiable: false,
        manifests: [],
        sources: [
          {
            repo: 'gentoo',
            cpv: 'app-arch/xz-utils-5.6.3',
            uris: [
              { url: 'https://github.com/tukaani-project/xz/releases/download/v5.6.3/xz-5.6.3.tar.gz' },
              { url: 'https://downloads.sourceforge.net/lzmautils/xz-5.6.3.tar.gz' },
              { url: 'https://tukaani.org/xz/xz-5.6.3.tar.gz' },
            ],
            restrict: NO_RESTRICT,
          },
        ],
      });
      expect(lookup('xz-5.6.3.tar.gz.sig').sources[0].uris).toHaveLength(2);
    });

    it('keeps the DIST lines no entry names (for verification), without sources', () => {
      expect(lookup('xz-5.2.7.tar.gz')).toEqual({
        name: 'xz-5.2.7.tar.gz',
        size: 2105803,
        BLAKE2B:
          '5363c5d0403e041c6d2e35b5d3321feeb8e63b8556496373c820975850b50e28e0da903446a49ba516fd9f40e0101dd39cfa9a9b8dd143c9849c84a715bb5d7b',
        SHA512:
          '06329fdbd1d897aa99dc96900c6246457288c586d02bb4869a92dd2f97973f95acb3a2fa9598a20613ea029f816836a8e3b65e36fec2b807b5e7553141429ab9',
        verifiable: true,
        manifests: [
          {
            repos: ['gentoo'],
            size: 2105803,
            BLAKE2B:
              '5363c5d0403e041c6d2e35b5d3321feeb8e63b8556496373c820975850b50e28e0da903446a49ba516fd9f40e0101dd39cfa9a9b8dd143c9849c84a715bb5d7b',
            SHA512:
              '06329fdbd1d897aa99dc96900c6246457288c586d02bb4869a92dd2f97973f95acb3a2fa9598a20613ea029f816836a8e3b65e36fec2b807b5e7553141429ab9',
          },
        ],
        sources: [],
      });
      expect(lookup('acl-2.3.1.tar.gz').size).toBe(518292);
    });

    it('indexes a package without Manifest: mirror+ under RESTRICT=fetch, a rename in test?', () => {
      expect(lookup('radare2-6.0.4.tar.gz')).toEqual({
        name: 'radare2-6.0.4.tar.gz',
        verifiable: false,
        manifests: [],
        sources: [
          {
            repo: 'gentoo',
            cpv: 'dev-util/radare2-6.0.4',
            uris: [{ url: 'https://github.com/radareorg/radare2/archive/6.0.4.tar.gz', lifts: 'mirror' }],
            restrict: FETCH,
          },
        ],
      });
      expect(
        lookup('radare2-testbins-b6133ea9c40ec0bcadd08a37f4eed1af5c2b6d86.tar.gz').sources[0].uris,
      ).toEqual([
        {
          url: 'https://github.com/radareorg/radare2-testbins/archive/b6133ea9c40ec0bcadd08a37f4eed1af5c2b6d86.tar.gz',
        },
      ]);
    });

    it('keeps a bare name next to a fetch+ URI', () => {
      expect(lookup('vmd-1.9.4a57.src.tar.gz').sources).toEqual([
        { repo: 'gentoo', cpv: 'sci-chemistry/vmd-1.9.4_alpha57-r4', uris: [], restrict: FETCH },
      ]);
      expect(lookup('vmd-1.9.4_alpha57-gentoo-patches.tar.xz').sources[0].uris).toEqual([
        { url: 'https://dev.gentoo.org/~pacho/vmd/vmd-1.9.4_alpha57-gentoo-patches.tar.xz', lifts: 'fetch' },
      ]);
    });

    it('leaves out a mirror:// name that no thirdpartymirrors lists, and says so once', () => {
      expect(lookup('acl-2.3.2.tar.xz').sources).toEqual([
        { repo: 'gentoo', cpv: 'sys-apps/acl-2.3.2-r2', uris: [], restrict: NO_RESTRICT },
      ]);
      expect(logger.warnings.filter((warning) => warning.includes('mirror://nongnu/'))).toEqual([
        'mirror://nongnu/ (first seen in sys-apps/acl-2.3.2-r2::gentoo) is in no profiles/thirdpartymirrors of gentoo or its masters: those URIs are skipped',
      ]);
    });
  });

  it('warns about nothing else', () => {
    expect(logger.warnings).toHaveLength(1);
    expect(logger.logs).toEqual([
      expect.stringMatching(
        /^indexed 5891 distfiles of gentoo, guru: 5891 changed, \d+ files read in \d+ ms$/,
      ),
    ]);
  });
});

describe('DistfileIndex on hand-written repositories', () => {
  let root: string;
  const logger = collectingLogger();
  let index: DistfileIndex;
  const B = (c: string) => c.repeat(128);

  beforeAll(async () => {
    ({ root } = await copyFixtures());
    await writeRepo(join(root, 'broken'), {
      name: 'broken',
      entries: {
        'app-misc/unbalanced-1.0': 'EAPI=8\nSRC_URI=doc? ( https://e.org/unbalanced-doc.tar.gz\n',
        'app-misc/anyof-1.0': 'EAPI=8\nSRC_URI=|| ( https://e.org/a.tar.gz https://e.org/b.tar.gz )\n',
        'app-misc/good-1.0': 'EAPI=8\nSRC_URI=https://e.org/good-1.0.tar.gz\nRESTRICT=mirror? ( fetch\n',
        'app-misc/one-1.0': 'EAPI=8\nSRC_URI=https://one.org/shared.tar.gz\n',
        'app-misc/two-1.0': 'EAPI=8\nSRC_URI=https://two.org/shared.tar.gz\n',
        'app-misc/.one-1.0.XYZ123': 'rsync temporary file',
        'app-misc/mixed-1.0':
          'EAPI=8\nSRC_URI=https://a.org/mixed.tar.gz mirror+https://b.org/mixed.tar.gz mirror://gentoo/ab/mixed-extra.tar.gz\n',
        'dev-libs/three-1.0': 'EAPI=8\nSRC_URI=https://one.org/agreed.tar.gz\n',
        'app-misc/notes.txt': 'not an entry',
      },
      manifests: {
        'app-misc/good': `DIST good-1.0.tar.gz 5 BLAKE2B ${B('a')} SHA512 ${B('b')}\n`,
        'app-misc/one': `DIST shared.tar.gz 100 BLAKE2B ${B('c')}\n`,
        'app-misc/two': `DIST shared.tar.gz 101 BLAKE2B ${B('d')}\nDIST agreed.tar.gz 7 BLAKE2B ${B('e')}\n`,
        'dev-libs/three': `DIST agreed.tar.gz 7 SHA512 ${B('f')} BLAKE2B ${B('e')}\n`,
      },
    });
    index = new DistfileIndex({ discovery: { paths: [join(root, 'broken')] }, logger });
    await index.refresh();
  });

  afterAll(async () => {
    await index.close();
    await rm(root, { recursive: true, force: true });
  });

  it('skips an entry whose SRC_URI does not parse, with one line naming it, and indexes the rest', () => {
    expect(logger.warnings).toContain(
      "app-misc/unbalanced-1.0::broken skipped: its SRC_URI does not parse: missing ')' at the end (1 open)",
    );
    expect(logger.warnings).toContain(
      "app-misc/anyof-1.0::broken skipped: its SRC_URI does not parse: '||' is not allowed here (token 1)",
    );
    expect(index.lookup('unbalanced-doc.tar.gz')).toBeUndefined();
    expect(index.lookup('a.tar.gz')).toBeUndefined();
    expect(index.lookup('good-1.0.tar.gz')).toMatchObject({ size: 5, verifiable: true });
  });

  it('keeps prefixes per URI, and mirror://gentoo as a marker for the caller', () => {
    expect(index.lookup('mixed.tar.gz')?.sources[0].uris).toEqual([
      { url: 'https://a.org/mixed.tar.gz' },
      { url: 'https://b.org/mixed.tar.gz', lifts: 'mirror' },
    ]);
    expect(index.lookup('mixed-extra.tar.gz')?.sources[0].uris).toEqual([
      { url: 'mirror://gentoo/ab/mixed-extra.tar.gz' },
    ]);
  });

  it('merges Manifests that agree but list different algorithms', () => {
    expect(index.lookup('agreed.tar.gz')).toMatchObject({
      size: 7,
      BLAKE2B: 'e'.repeat(128),
      SHA512: 'f'.repeat(128),
      verifiable: true,
    });
  });

  it('takes every word of a RESTRICT that does not parse', () => {
    expect(index.lookup('good-1.0.tar.gz')?.sources[0].restrict).toEqual({
      fetch: true,
      mirror: false,
      primaryuri: false,
    });
    expect(logger.warnings).toContain(
      "app-misc/good-1.0::broken: RESTRICT does not parse (missing ')' at the end (1 open)); taking every word of it",
    );
  });

  it('ignores files that are not package versions, hidden ones silently', () => {
    expect(logger.warnings).toContain(
      'broken: ignoring metadata/md5-cache/app-misc/notes.txt: not <package>-<version>',
    );
    expect(logger.warnings.filter((warning) => warning.includes('XYZ123'))).toEqual([]);
  });

  it('keeps a file whose Manifests disagree verifiable against each of them, explains and logs it once', async () => {
    const conflict = `Manifests disagree about shared.tar.gz: broken::app-misc/one says 100 bytes BLAKE2B ${'c'.repeat(16)}…; broken::app-misc/two says 101 bytes BLAKE2B ${'d'.repeat(16)}…`;
    expect(index.lookup('shared.tar.gz')).toEqual({
      name: 'shared.tar.gz',
      verifiable: true,
      conflict,
      manifests: [
        { repos: ['broken'], size: 100, BLAKE2B: B('c') },
        { repos: ['broken'], size: 101, BLAKE2B: B('d') },
      ],
      sources: [
        {
          repo: 'broken',
          cpv: 'app-misc/one-1.0',
          uris: [{ url: 'https://one.org/shared.tar.gz' }],
          restrict: NO_RESTRICT,
        },
        {
          repo: 'broken',
          cpv: 'app-misc/two-1.0',
          uris: [{ url: 'https://two.org/shared.tar.gz' }],
          restrict: NO_RESTRICT,
        },
      ],
    });
    await index.refresh({ deep: true });
    await writeFile(join(root, 'broken/app-misc/one/Manifest'), `DIST shared.tar.gz 100 BLAKE2B ${B('c')}\n`);
    await index.refresh();
    expect(logger.warnings.filter((warning) => warning === conflict)).toHaveLength(1);
  });
});

describe('DistfileIndex on repositories whose Manifests disagree', () => {
  let root: string;
  let index: DistfileIndex;
  const B = (c: string) => c.repeat(128);
  const entry = (name: string) => `EAPI=8\nSRC_URI=https://e.org/${name}\n`;

  beforeAll(async () => {
    ({ root } = await copyFixtures());
    await writeRepo(join(root, 'gentoo'), {
      name: 'gentoo',
      entries: {
        'app-misc/tool-1.0': entry('tool-1.0.tar.gz'),
        'app-misc/tool-bin-1.0': entry('tool-1.0.tar.gz'),
        'app-misc/bare-1.0': entry('bare-1.0.tar.gz'),
        'app-misc/half-1.0': entry('half-1.0.tar.gz'),
      },
      manifests: {
        'app-misc/tool': `DIST tool-1.0.tar.gz 1000 BLAKE2B ${B('a')} SHA512 ${B('b')}\n`,
        'app-misc/tool-bin': `DIST tool-1.0.tar.gz 1000 BLAKE2B ${B('a')} SHA512 ${B('b')}\n`,
        'app-misc/bare': 'DIST bare-1.0.tar.gz 5\n',
        'app-misc/half': 'DIST half-1.0.tar.gz 5\n',
      },
    });
    await writeRepo(join(root, 'my-overlay'), {
      name: 'my-overlay',
      masters: 'gentoo',
      // Manifests are read for the packages of the md5-cache.
      entries: {
        'app-misc/tool-1.0': entry('tool-1.0.tar.gz'),
        'app-misc/bare-1.0': entry('bare-1.0.tar.gz'),
        'app-misc/half-1.0': entry('half-1.0.tar.gz'),
      },
      manifests: {
        'app-misc/tool': `DIST tool-1.0.tar.gz 1200 BLAKE2B ${B('c')} SHA512 ${B('d')}\n`,
        'app-misc/bare': 'DIST bare-1.0.tar.gz 6\n',
        'app-misc/half': `DIST half-1.0.tar.gz 6 SHA512 ${B('e')}\n`,
      },
    });
    index = new DistfileIndex({ discovery: { paths: [join(root, 'gentoo'), join(root, 'my-overlay')] } });
    await index.refresh();
  });

  afterAll(async () => {
    await index.close();
    await rm(root, { recursive: true, force: true });
  });

  it('lists each distinct DIST line once with the repositories that have it, and stays verifiable', () => {
    // Three Manifests, the third one disagreeing: each keeps its own line.
    expect(index.lookup('tool-1.0.tar.gz')).toMatchObject({
      verifiable: true,
      conflict: `Manifests disagree about tool-1.0.tar.gz: gentoo::app-misc/tool says 1000 bytes BLAKE2B ${'a'.repeat(16)}… SHA512 ${'b'.repeat(16)}…; gentoo::app-misc/tool-bin says 1000 bytes BLAKE2B ${'a'.repeat(16)}… SHA512 ${'b'.repeat(16)}…; my-overlay::app-misc/tool says 1200 bytes BLAKE2B ${'c'.repeat(16)}… SHA512 ${'d'.repeat(16)}…`,
      manifests: [
        { repos: ['gentoo'], size: 1000, BLAKE2B: B('a'), SHA512: B('b') },
        { repos: ['my-overlay'], size: 1200, BLAKE2B: B('c'), SHA512: B('d') },
      ],
    });
    const entry = index.lookup('tool-1.0.tar.gz');
    expect([entry?.size, entry?.BLAKE2B, entry?.SHA512]).toEqual([undefined, undefined, undefined]);
  });

  it('is not verifiable by sizes alone, and verifiable when one line has a digest', () => {
    expect(index.lookup('bare-1.0.tar.gz')).toMatchObject({
      verifiable: false,
      conflict:
        'Manifests disagree about bare-1.0.tar.gz: gentoo::app-misc/bare says 5 bytes; my-overlay::app-misc/bare says 6 bytes',
      manifests: [
        { repos: ['gentoo'], size: 5 },
        { repos: ['my-overlay'], size: 6 },
      ],
    });
    expect(index.lookup('half-1.0.tar.gz')).toMatchObject({
      verifiable: true,
      manifests: [
        { repos: ['gentoo'], size: 5 },
        { repos: ['my-overlay'], size: 6, SHA512: B('e') },
      ],
    });
  });
});

// nuget.eclass puts every feed of a package into SRC_URI: versions of one package share their
// list, another package adds its own feed (as www-apps/prowlarr and www-apps/radarr in GURU).
describe('DistfileIndex on a file named by several packages with different URI lists', () => {
  let root: string;
  let index: DistfileIndex;
  const stylecop = 'stylecop.analyzers.unstable.1.2.0.556.nupkg';
  const codepages = 'system.text.encoding.codepages.8.0.0.nupkg';
  const NUGET = 'https://api.nuget.org/v3-flatcontainer';
  const FFMPEG = 'https://pkgs.dev.azure.com/ffmpegcore/nuget/v3/flat2';
  const PROWLARR = [NUGET, 'https://a.example/nuget', 'https://b.example/nuget', 'https://c.example/nuget'];
  const feeds = (name: string, bases: readonly string[]) => bases.map((base) => `${base}/${name}`);
  const srcUri = (names: readonly string[], bases: readonly string[]) =>
    `EAPI=8\nSRC_URI=${names.flatMap((name) => feeds(name, bases).map((url) => `${url} -> ${name}`)).join(' ')}\n`;
  const urls = (name: string) =>
    index.lookup(name)?.sources.map((source) => [source.cpv, source.uris.map((uri) => uri.url)]);
  const radarr = () => join(root, 'guru/metadata/md5-cache/www-apps/radarr-6.3.0.10514');

  beforeAll(async () => {
    ({ root } = await copyFixtures());
    await writeRepo(join(root, 'guru'), {
      name: 'guru',
      entries: {
        'www-apps/prowlarr-2.4.0.5397': srcUri([stylecop, codepages], PROWLARR),
        'www-apps/prowlarr-2.5.2.5491': srcUri([stylecop, codepages], PROWLARR),
        'www-apps/radarr-6.3.0.10514': srcUri([stylecop], [NUGET, FFMPEG]),
      },
    });
    index = new DistfileIndex({ discovery: { paths: [join(root, 'guru')] } });
    await index.refresh();
  });

  afterAll(async () => {
    await index.close();
    await rm(root, { recursive: true, force: true });
  });

  it('gives each package its own URIs when the first two share theirs', () => {
    expect(urls(stylecop)).toEqual([
      ['www-apps/prowlarr-2.4.0.5397', feeds(stylecop, PROWLARR)],
      ['www-apps/prowlarr-2.5.2.5491', feeds(stylecop, PROWLARR)],
      ['www-apps/radarr-6.3.0.10514', feeds(stylecop, [NUGET, FFMPEG])],
    ]);
  });

  it('gives each package its own URIs when a refresh adds a package to a shared list', async () => {
    await writeFile(radarr(), srcUri([stylecop, codepages], [NUGET, FFMPEG]));
    const later = new Date(Date.now() + 60_000);
    await utimes(radarr(), later, later);
    await index.refresh();
    expect(urls(codepages)).toEqual([
      ['www-apps/prowlarr-2.4.0.5397', feeds(codepages, PROWLARR)],
      ['www-apps/prowlarr-2.5.2.5491', feeds(codepages, PROWLARR)],
      ['www-apps/radarr-6.3.0.10514', feeds(codepages, [NUGET, FFMPEG])],
    ]);
  });
});

describe('DistfileIndex.refresh', () => {
  let repos: Record<string, string>;
  const reader = new CountingReader();
  const logger = collectingLogger();
  let index: DistfileIndex;
  const entry = (path: string) => join(repos.guru, 'metadata/md5-cache', path);

  beforeAll(async () => {
    repos = await copyFixtures('gentoo', 'guru');
    index = new DistfileIndex({ discovery: { paths: [repos.gentoo, repos.guru] }, reader, logger });
    const first = await index.refresh();
    expect(first).toMatchObject({ changed: true, full: true, filesRead: 945 + 4 + 622 + 2 });
    expect(first.changedNames.size).toBe(5891);
    reader.takeReads();
  });

  afterAll(async () => {
    await index.close();
    await rm(repos.root, { recursive: true, force: true });
  });

  it('reads nothing and keeps the snapshot when nothing changed', async () => {
    const before = index.snapshot;
    const result = await index.refresh();
    expect(result).toMatchObject({ changed: false, filesRead: 0 });
    expect(result.snapshot).toBe(before);
    expect(reader.takeReads()).toEqual([]);
  });

  it('re-reads only the md5-cache entry that changed, and swaps in a new snapshot', async () => {
    const before = index.snapshot;
    const path = entry('net-misc/openbgpd-8.5');
    const text = readFileSync(path, 'utf8');
    // As egencache and rsync do: a new file renamed into place.
    await writeFile(`${path}.new`, text.replace('openbgpd-8.5.tar.gz', 'openbgpd-8.5p1.tar.gz'));
    await rename(`${path}.new`, path);
    const later = new Date(Date.now() + 60_000);
    await utimes(path, later, later);

    const result = await index.refresh();
    expect(reader.takeReads()).toEqual([path]);
    expect(result.changedNames).toEqual(new Set(['openbgpd-8.5.tar.gz', 'openbgpd-8.5p1.tar.gz']));
    expect(index.lookup('openbgpd-8.5p1.tar.gz')?.sources).toEqual([
      {
        repo: 'guru',
        cpv: 'net-misc/openbgpd-8.5',
        uris: [{ url: 'https://mirrors.evowise.com/pub/OpenBSD/OpenBGPD/openbgpd-8.5p1.tar.gz' }],
        restrict: NO_RESTRICT,
      },
    ]);
    // Only in the Manifest now: no source left, still verifiable.
    expect(index.lookup('openbgpd-8.5.tar.gz')).toMatchObject({
      size: 848032,
      verifiable: true,
      sources: [],
    });
    // Whoever held the old snapshot still sees the old index.
    expect(before?.lookup('openbgpd-8.5p1.tar.gz')).toBeUndefined();
    expect(before?.lookup('openbgpd-8.5.tar.gz')?.sources).toHaveLength(1);
    expect(result.snapshot.generation).toBe((before?.generation ?? 0) + 1);
  });

  it('re-reads a Manifest changed in place', async () => {
    const manifest = join(repos.guru, 'app-misc/chayang/Manifest');
    const text = readFileSync(manifest, 'utf8');
    await writeFile(
      manifest,
      text.replace('DIST chayang-0.1.0.tar.gz 10508 ', 'DIST chayang-0.1.0.tar.gz 10509 '),
    );
    const result = await index.refresh();
    expect(reader.takeReads()).toEqual([manifest]);
    expect([...result.changedNames]).toEqual(['chayang-0.1.0.tar.gz']);
    expect(index.lookup('chayang-0.1.0.tar.gz')?.size).toBe(10509);
  });

  it('drops removed entries and categories', async () => {
    await rm(entry('dev-embedded/nxp-gui-guider-2.0.0'));
    await rm(join(repos.gentoo, 'metadata/md5-cache/dev-util'), { recursive: true });
    const result = await index.refresh();
    expect(reader.takeReads()).toEqual([]);
    expect(index.lookup('radare2-6.0.4.tar.gz')).toBeUndefined();
    expect(result.changedNames.has('radare2-6.0.4-qjs.tar.gz')).toBe(true);
    // Its Manifest is still read for the other versions, which name other files.
    expect(index.lookup('GUIGuider-2.0.0-amd64.deb')).toMatchObject({ size: 209098816, sources: [] });
  });

  it('with timestamp.chk, looks only into categories whose directory changed until the next sync', async () => {
    const stamp = join(repos.guru, 'metadata/timestamp.chk');
    await writeFile(stamp, 'Sat, 21 Aug 2026 17:30:01 +0000\n');
    await index.refresh();
    reader.takeReads();

    // Rewritten in place: the directory does not change, timestamp.chk neither.
    const inPlace = entry('app-misc/chayang-0.1.0');
    const text = readFileSync(inPlace, 'utf8');
    await writeFile(inPlace, text.replace('RESTRICT=mirror', 'RESTRICT=fetch'));
    expect((await index.refresh()).changed).toBe(false);
    const guruFilesStatted = reader.stats.filter(
      (path) => path.includes('/guru/') && !/\/md5-cache\/[^/]+$/.test(path),
    );
    expect(guruFilesStatted).toEqual([]);

    // A new entry in games-util: only that category is looked into.
    await writeFile(entry('games-util/xone-0.5.9'), 'EAPI=8\nSRC_URI=https://e.org/xone-0.5.9.tar.gz\n');
    reader.takeReads();
    await index.refresh();
    expect(reader.takeReads()).toEqual([entry('games-util/xone-0.5.9')]);
    expect(index.lookup('xone-0.5.9.tar.gz')?.sources[0].cpv).toBe('games-util/xone-0.5.9');
    expect(index.lookup('chayang-0.1.0.tar.gz')?.sources[0].restrict).toEqual(MIRROR);

    // The next sync changes timestamp.chk: everything is checked, the in-place change found.
    await writeFile(stamp, 'Sat, 21 Aug 2026 18:00:01 +0000\n');
    await index.refresh();
    expect(reader.takeReads()).toEqual([inPlace]);
    expect(index.lookup('chayang-0.1.0.tar.gz')?.sources[0].restrict).toEqual(FETCH);
  });

  it('finds in-place changes at once with { deep: true }', async () => {
    const path = entry('app-misc/chayang-0.1.0');
    const text = readFileSync(path, 'utf8');
    await writeFile(path, text.replace('RESTRICT=fetch', 'RESTRICT=primaryuri'));
    await index.refresh({ deep: true });
    expect(reader.takeReads()).toEqual([path]);
    expect(index.lookup('chayang-0.1.0.tar.gz')?.sources[0].restrict).toEqual({
      fetch: false,
      mirror: false,
      primaryuri: true,
    });
  });
});
