import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PortcacheConfigModule } from '../config/config.module.js';
import { RepositoryModule } from './repository.module.js';
import { REPOSITORY_PATHS, type RefreshedEvent, SrcUriResolver } from './src-uri-resolver.service.js';
import { collectingLogger, copyFixtures, FIXTURE_REPOS, writeRepo } from './testing/fixture-repos.js';

const cleanup: Array<() => Promise<unknown>> = [];
/** RepositoryModule needs the configuration and the scheduler the application provides. */
const MODULES = [PortcacheConfigModule.forRoot({}), ScheduleModule.forRoot(), RepositoryModule];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('RepositoryModule', () => {
  it('discovers repositories by default', async () => {
    const moduleRef = await Test.createTestingModule({ imports: MODULES }).compile();
    expect(moduleRef.get(REPOSITORY_PATHS)).toBeUndefined();
    await moduleRef.close();
  });

  it('provides a SrcUriResolver that builds in the background once the application starts', async () => {
    const moduleRef = await Test.createTestingModule({ imports: MODULES })
      .overrideProvider(REPOSITORY_PATHS)
      .useValue([FIXTURE_REPOS.gentoo, FIXTURE_REPOS.guru])
      .compile();
    cleanup.push(() => moduleRef.close());
    const resolver = moduleRef.get(SrcUriResolver);
    const events: RefreshedEvent[] = [];
    resolver.onRefreshed((event) => {
      events.push(event);
    });
    await moduleRef.init();
    expect(resolver.ready).toBe(false);
    expect(resolver.lookup('xone-0.5.8.tar.gz')).toBeUndefined();

    await resolver.whenReady();
    expect(resolver.ready).toBe(true);
    expect(resolver.lookup('xone-0.5.8.tar.gz')).toMatchObject({ size: 81236, verifiable: true });
    expect(events).toHaveLength(1);
    // Identity, not toMatchObject: that walks the snapshot's typed arrays element by element.
    expect(events[0].full).toBe(true);
    expect(events[0].snapshot).toBe(resolver.snapshot);
    expect(events[0].changedNames.size).toBe(5891);
  });
});

describe('SrcUriResolver', () => {
  async function resolverOn(location: string) {
    const logger = collectingLogger();
    const resolver = new SrcUriResolver([location], { ...logger, error: logger.warn } as unknown as Logger);
    cleanup.push(() => resolver.onModuleDestroy());
    return { resolver, logger };
  }

  it('tells listeners what a refresh changed, survives a failing listener, and can unsubscribe', async () => {
    const { root } = await copyFixtures();
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const repo = await writeRepo(join(root, 'local'), {
      name: 'local',
      entries: { 'app-misc/foo-1.0': 'EAPI=8\nSRC_URI=https://e.org/foo-1.0.tar.gz\n' },
    });
    const { resolver, logger } = await resolverOn(repo);
    await resolver.whenReady();

    const seen: Array<string[]> = [];
    resolver.onRefreshed(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = resolver.onRefreshed(({ changedNames, full }) => {
      expect(full).toBe(false);
      seen.push([...changedNames]);
    });
    await writeFile(
      join(repo, 'metadata/md5-cache/app-misc/foo-1.1'),
      'EAPI=8\nSRC_URI=https://e.org/foo-1.1.tar.gz\n',
    );
    const result = await resolver.refresh();
    expect(result.changed).toBe(true);
    expect(seen).toEqual([['foo-1.1.tar.gz']]);
    expect(resolver.lookup('foo-1.1.tar.gz')?.sources[0].uris).toEqual([
      { url: 'https://e.org/foo-1.1.tar.gz' },
    ]);
    expect(logger.warnings).toEqual([
      expect.stringMatching(/^a refresh listener failed: Error: listener bug/),
    ]);

    unsubscribe();
    await writeFile(
      join(repo, 'metadata/md5-cache/app-misc/foo-1.2'),
      'EAPI=8\nSRC_URI=https://e.org/foo-1.2.tar.gz\n',
    );
    await resolver.refresh();
    expect(seen).toHaveLength(1);
    expect((await resolver.refresh()).changed).toBe(false);
  });

  it('is ready with an empty index when the repository has no md5-cache, and says what to do', async () => {
    const { root } = await copyFixtures();
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const repo = await writeRepo(join(root, 'checkout'), { name: 'checkout' });
    await rm(join(repo, 'metadata/md5-cache'), { recursive: true });
    const { resolver, logger } = await resolverOn(repo);
    await resolver.whenReady();
    expect(resolver.ready).toBe(true);
    expect(resolver.snapshot?.size).toBe(0);
    expect(logger.warnings).toEqual([expect.stringContaining('run `egencache --update --repo checkout`')]);
  });
});
