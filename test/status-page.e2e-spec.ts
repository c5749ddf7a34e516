import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StatsService } from '../src/admin/stats.service.js';
import type { TrafficStats } from '../src/admin/traffic-stats.js';
import { JanitorScheduler } from '../src/janitor/janitor.service.js';
import { requestRecord } from '../src/metrics/testing/request-record.js';
import type { RequestRecord } from '../src/metrics/traffic.service.js';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { TrafficHistory } from '../src/status/traffic-history.js';
import { GatedUpstream } from './support/gated-upstream.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { distLine } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
import { sleep } from './support/upstream-server.js';
import { waitForCommit, waitForFillAt } from './support/wait.js';

// The status page in a real browser (Debian's Chromium, driven by playwright-core): live
// progress without a reload, a failing mirror, names shown as text, the search box, the page
// without JavaScript and at phone width.

// The browser's globals, as far as the functions run in the page use them (the project compiles
// without lib "dom"); module-scoped, so nothing else sees them.
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  style: { width: string };
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  getElementById(id: string): PageElement | null;
  scrollingElement: { scrollWidth: number } | null;
};
declare const window: { __sameDocument?: boolean; __pwned?: number };

/** Set to a path to write the README's screenshot there (a populated page, 1280 px wide). */
const SCREENSHOT = process.env.PORTCACHE_STATUS_SCREENSHOT;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KiB = 1024;
const MiB = 1024 * KiB;
const KNOWN = 'known-2.4.1.tar.xz';
// Not a slash in it (no distfile name has one), but markup that would run if it were markup:
// the <script> would swallow the page, the <img> would set the flag from its onerror.
const EVIL = 'evil-<script>window.__pwned=1;<img src=x onerror="window.__pwned=2">.tar.gz';

/** A loopback port nothing listens on: a mirror that refuses every connection. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A row of a section's table, by its key (a distfile name, a URL): quoted for CSS. */
const rowOf = (section: string, key: string) => `#${section} tr[data-key=${JSON.stringify(key)}]`;

/** A bar's width as the browser has it now (0..100). */
async function barWidth(page: Page, rowSelector: string): Promise<number> {
  return page.$eval(`${rowSelector} .bar i`, (el) =>
    Number.parseFloat((el as unknown as PageElement).style.width),
  );
}

describe('status page in a browser', () => {
  let browser: Browser;
  let portcache: RunningPortcache | undefined;
  let gated: GatedUpstream | undefined;
  const bed = new TestBed('portcache-status-page-');

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await portcache?.close();
    portcache = undefined;
    await gated?.stop();
    gated = undefined;
    await bed.close();
  });

  /** portcache with a dead mirror asked first, the gated one second, and a repository that knows KNOWN. */
  async function start(
    files: Record<string, Buffer>,
    pace?: Parameters<GatedUpstream['add']>[2],
    /** More packages: `cat/pf` → [distfile, its bytes, SRC_URI]. */
    packages: Record<string, [string, Buffer, string?]> = {},
  ) {
    gated = await GatedUpstream.start();
    for (const [name, body] of Object.entries(files))
      gated.add(name, body, name === KNOWN ? undefined : pace);
    const known = files[KNOWN] ?? randomBytes(4 * KiB);
    const entries: Record<string, string> = {};
    const manifests: Record<string, string> = {};
    for (const [cpf, [name, body, uri]] of Object.entries({
      'app-misc/known-2.4.1': [KNOWN, known] as [string, Buffer, string?],
      ...packages,
    })) {
      entries[cpf] = `EAPI=8\nSRC_URI=${uri ?? `mirror://gentoo/${name}`}\n`;
      const cpn = cpf.replace(/-[0-9][^/]*$/, '');
      manifests[cpn] = (manifests[cpn] ?? '') + distLine(name, body);
    }
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), { name: 'gentoo', entries, manifests });
    const dead = `http://127.0.0.1:${await deadPort()}`;
    portcache = await startPortcache({
      PORTCACHE_MIRRORS: `${dead} ${gated.url}`,
      PORTCACHE_REPOS: repo,
      PORTCACHE_MAX_SIZE: '1G',
    });
    await portcache.app.get(SrcUriResolver).whenReady();
    return { running: portcache, dead };
  }

  it('shows a fill live: its bar advances without a reload and it ends "cached"; the failing mirror shows as failing', async () => {
    const name = 'live-1.0.tar.gz';
    const body = randomBytes(2 * MiB);
    // The last 512 KiB wait until the page has shown the fill in progress, however slow the machine.
    let resume = () => {};
    const resumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const { running, dead } = await start(
      { [name]: body },
      { bytesPerSecond: 512 * KiB, pauseAt: 1536 * KiB, resume: resumed },
    );
    const download = fetchDistfile(`${running.url}/distfiles/${name}`);
    await waitForFillAt(running, name, 128 * KiB);

    const page = await browser.newPage();
    try {
      await page.goto(`${running.url}/`);
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      const row = rowOf('fills', name);
      await page.waitForSelector(row);
      const first = await barWidth(page, row);
      expect(first).toBeLessThan(100);
      await page.waitForFunction(
        ([selector, before]) => {
          const bar = document.querySelector(`${selector} .bar i`) as PageElement | null;
          return bar !== null && Number.parseFloat(bar.style.width) > before + 10;
        },
        [row, first] as const,
        { timeout: 10_000 },
      );
      expect(await page.textContent(`${row} .badge`)).toBe('downloading');
      expect(await page.textContent(`${row} [data-f=progress]`)).toMatch(/ of 2\.00 MiB \(\d+(\.\d)?%\)$/);
      expect(await page.textContent('#conn')).toBe('live');

      resume();
      expect((await download).error).toBeUndefined();
      await waitForCommit(running, name);
      await page.waitForFunction(
        (selector) => document.querySelector(`${selector} .badge`)?.textContent === 'cached',
        row,
        {
          timeout: 10_000,
        },
      );
      expect(await barWidth(page, row)).toBe(100);
      // Still the page first loaded: it was updated, not reloaded.
      expect(await page.evaluate(() => window.__sameDocument)).toBe(true);

      const deadRow = rowOf('mirrors', dead);
      await page.waitForFunction(
        (selector) => document.querySelector(selector)?.getAttribute('data-state') === 'bad',
        deadRow,
      );
      expect(await page.textContent(`${deadRow} .badge`)).toMatch(/^failing/);
      expect(await page.textContent(deadRow)).toMatch(/last error [^:]+: .*(refused|ECONNREFUSED)/i);
      expect(await page.getAttribute(rowOf('mirrors', gated?.url ?? ''), 'data-state')).toBe('ok');
    } finally {
      await page.close();
    }
  });

  it('shows a name with markup as text, on load and when it arrives live; the search box explains a known file', async () => {
    const known = randomBytes(8 * KiB);
    const { running } = await start({ [KNOWN]: known, [EVIL]: randomBytes(16 * KiB) });
    expect((await fetchDistfile(`${running.url}/distfiles/${KNOWN}`)).error).toBeUndefined();
    await waitForCommit(running, KNOWN);

    const page = await browser.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${running.url}/status`);
      // Arrives while the page is open: written by the script.
      expect(
        (await fetchDistfile(`${running.url}/distfiles/${encodeURIComponent(EVIL)}`)).error,
      ).toBeUndefined();
      await waitForCommit(running, EVIL);
      const live = page.locator(`${rowOf('fills', EVIL)} .name`);
      await live.waitFor({ timeout: 10_000 });
      expect(await live.textContent()).toBe(EVIL);
      expect(await live.isVisible()).toBe(true);
      await page.locator(rowOf('top', EVIL)).waitFor({ timeout: 10_000 });

      // Written by the server.
      await page.reload();
      expect(await page.locator(`${rowOf('fills', EVIL)} .name`).textContent()).toBe(EVIL);
      expect(await page.locator(`${rowOf('top', EVIL)} .name`).isVisible()).toBe(true);

      // The search box: a known file, then the name with markup.
      await page.fill('form.search input', KNOWN);
      await page.click('form.search button');
      await page.locator('#explain').waitFor({ state: 'visible' });
      await page.waitForFunction(
        (name) => document.querySelector('#explain h2 .name')?.textContent === name,
        KNOWN,
      );
      expect(await page.textContent('#explain .badge')).toBe('cached: served from the cache');
      expect(await page.textContent('#explain [data-f=verified]')).toBe(
        'yes: matches the Manifest of gentoo',
      );
      expect(await page.textContent('#explain [data-f=index]')).toBe('known to the index');
      expect(await page.textContent('#explain [data-f=packages]')).toBe('gentoo::app-misc/known-2.4.1');
      expect(await page.textContent('#explain tbody tr [data-f=where]')).toContain(`mirrors: `);
      expect(page.url()).toBe(`${running.url}/status?explain=${encodeURIComponent(KNOWN)}`);

      await page.fill('form.search input', EVIL);
      await page.click('form.search button');
      await page.waitForFunction(
        (name) => document.querySelector('#explain h2 .name')?.textContent === name,
        EVIL,
      );
      expect(await page.textContent('#explain [data-f=index]')).toBe(
        'not in any Manifest of the indexed repositories',
      );

      expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows the figures without JavaScript, and the search answer through the address', async () => {
    const { running } = await start({ [KNOWN]: randomBytes(8 * KiB) });
    expect((await fetchDistfile(`${running.url}/distfiles/${KNOWN}`)).error).toBeUndefined();
    await waitForCommit(running, KNOWN);
    expect((await fetchDistfile(`${running.url}/distfiles/${KNOWN}`)).error).toBeUndefined();

    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${running.url}/`);
      expect(await page.textContent('#conn')).toBe('snapshot: reload to update');
      expect(await page.textContent('[data-f="kpi.cacheFiles"]')).toBe('1 files');
      expect(await page.textContent('[data-f="kpi.cacheBytes"]')).toBe('8.00 KiB');
      expect(await page.textContent('[data-f="kpi.hitHour"]')).toBe('50.0%');
      expect(await page.textContent(`${rowOf('top', KNOWN)} [data-f=requests]`)).toBe('2');
      expect(await page.textContent('[data-f="index.distfiles"]')).toBe('1');
      expect(await page.textContent('[data-f="janitor.text"]')).toBe(
        'not yet: no run since portcache started',
      );
      expect(await page.isVisible('#explain')).toBe(false);

      await page.fill('form.search input', KNOWN);
      await page.click('form.search button');
      await page.waitForURL(`${running.url}/?explain=${encodeURIComponent(KNOWN)}`);
      expect(await page.isVisible('#explain')).toBe(true);
      expect(await page.textContent('#explain [data-f=cache]')).toBe('yes');
    } finally {
      await context.close();
    }
  });

  it('fits a phone: 375 px wide without horizontal scrolling, tables as cards', async () => {
    const long = `a-very-long-distfile-name-without-any-break-${'x'.repeat(120)}.tar.gz`;
    const { running } = await start({ [long]: randomBytes(4 * KiB), [KNOWN]: randomBytes(4 * KiB) });
    expect((await fetchDistfile(`${running.url}/distfiles/${long}`)).error).toBeUndefined();
    await waitForCommit(running, long);

    const context = await browser.newContext({ viewport: { width: 375, height: 800 }, deviceScaleFactor: 1 });
    try {
      const page = await context.newPage();
      await page.goto(`${running.url}/?explain=${encodeURIComponent(long)}`);
      await page.locator(rowOf('fills', long)).waitFor();
      expect(await page.evaluate(() => document.scrollingElement?.scrollWidth)).toBeLessThanOrEqual(375);
      expect(await page.isVisible('#fills thead')).toBe(false);
      // After the script's first update too.
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'live');
      expect(await page.evaluate(() => document.scrollingElement?.scrollWidth)).toBeLessThanOrEqual(375);
    } finally {
      await context.close();
    }
  });

  it('serves the page at / and /status beside the API, probes and metrics, with a strict CSP', async () => {
    const { running } = await start({});
    for (const path of ['/', '/status', '/status?explain=%3Cb%3E']) {
      const response = await request(`${running.url}${path}`, { signal: AbortSignal.timeout(5000) });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['content-security-policy']).toMatch(/script-src 'sha256-[^']+'/);
      const html = await response.body.text();
      expect(html).toContain('portcache');
      expect(html).not.toContain('<b>');
    }
    for (const path of [
      '/api/v1/status',
      '/api/v1/stats',
      '/health/live',
      '/metrics',
      '/distfiles/layout.conf',
    ]) {
      const response = await request(`${running.url}${path}`, { signal: AbortSignal.timeout(5000) });
      expect(response.statusCode, path).toBe(200);
      await response.body.dump();
    }
  });

  // Not a check: the README's picture, made on demand (PORTCACHE_STATUS_SCREENSHOT=docs/status-page.png).
  it.runIf(SCREENSHOT)('writes a screenshot of a busy page', { timeout: 120_000 }, async () => {
    const cached: Record<string, [string, number]> = {
      'sys-kernel/vanilla-sources-6.12': ['linux-6.12.tar.xz', 3 * MiB],
      'sys-devel/gcc-14.2.0': ['gcc-14.2.0.tar.xz', 2 * MiB],
      'dev-lang/rust-1.83.0': ['rustc-1.83.0-src.tar.xz', 2 * MiB],
      'dev-lang/python-3.13.1': ['Python-3.13.1.tar.xz', MiB],
      'dev-libs/openssl-3.3.2': ['openssl-3.3.2.tar.gz', 512 * KiB],
    };
    const running: Record<string, [string, number]> = {
      'www-client/firefox-128.5.0': ['firefox-128.5.0esr.source.tar.xz', 24 * MiB],
      'llvm-core/llvm-19.1.5': ['llvm-project-19.1.5.src.tar.xz', 16 * MiB],
    };
    const packages: Record<string, [string, Buffer, string?]> = {};
    const files: Record<string, Buffer> = { [KNOWN]: randomBytes(64 * KiB) };
    for (const [cpf, [name, size]] of Object.entries({ ...cached, ...running })) {
      files[name] = randomBytes(size);
      packages[cpf] = [name, files[name]];
    }
    // One file only its SRC_URI host has.
    const host = await bed.upstream('flat');
    const ninja = randomBytes(256 * KiB);
    host.add('ninja-1.12.1.tar.gz', ninja);
    packages['dev-build/ninja-1.12.1'] = [
      'ninja-1.12.1.tar.gz',
      ninja,
      `${host.url}/distfiles/ninja-1.12.1.tar.gz`,
    ];
    const { running: app } = await start(
      files,
      { bytesPerSecond: 3 * MiB, pauseAt: 6 * MiB, pauseMs: 60_000 },
      packages,
    );
    const names = (set: Record<string, [string, number]>) => Object.values(set).map(([name]) => name);
    for (const name of [...names(cached), 'ninja-1.12.1.tar.gz']) {
      expect((await fetchDistfile(`${app.url}/distfiles/${name}`)).error).toBeUndefined();
      await waitForCommit(app, name);
    }
    for (const name of [
      'linux-6.12.tar.xz',
      'linux-6.12.tar.xz',
      'gcc-14.2.0.tar.xz',
      'Python-3.13.1.tar.xz',
    ])
      await fetchDistfile(`${app.url}/distfiles/${name}`);
    // A day of traffic before this one, busier in working hours and mostly hits, in the history
    // and the statistics alike (the page's 24 h figures are the statistics').
    const history = app.app.get(TrafficHistory);
    const stats = (app.app.get(StatsService, { strict: false }) as unknown as { stats: TrafficStats }).stats;
    const now = Date.now();
    const popular = [...names(cached), 'ninja-1.12.1.tar.gz'];
    for (let minute = 24 * 60 - 1; minute > 2; minute--) {
      const at = now - minute * 60_000;
      const hour = new Date(at).getHours();
      const load = (0.25 + Math.max(0, Math.sin(((hour - 6) / 24) * 2 * Math.PI))) * (0.5 + Math.random());
      const record = (result: RequestRecord['result'], source: RequestRecord['source'], bytes: number) => {
        const name = popular[Math.floor(Math.random() ** 2 * popular.length)];
        const request = requestRecord({ name, result, source, bytes: Math.round(bytes) });
        history.add(request, at);
        stats.add(request, at);
      };
      record('hit', 'cache', load * 40 * MiB);
      if (Math.random() < 0.3) record('miss', 'fill', load * 25 * MiB * Math.random());
      if (Math.random() < 0.05) record('hit', 'upstream', load * 8 * MiB);
    }
    await app.app.get(JanitorScheduler).run();
    const downloads = names(running).map((name) => fetchDistfile(`${app.url}/distfiles/${name}`));
    for (const name of names(running)) await waitForFillAt(app, name, 4 * MiB, 20_000);
    // A second client reading the first download.
    const joined = fetchDistfile(`${app.url}/distfiles/firefox-128.5.0esr.source.tar.xz`);

    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      colorScheme: 'light',
    });
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/?explain=${encodeURIComponent('linux-6.12.tar.xz')}`);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'live');
      await sleep(1500);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await context.close();
      await gated?.stop();
      gated = undefined;
      await Promise.allSettled([...downloads, joined]);
    }
  });
});
