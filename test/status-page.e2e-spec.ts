import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SrcUriResolver } from '../src/repository/src-uri-resolver.service.js';
import { writeRepo } from '../src/repository/testing/fixture-repos.js';
import { GatedUpstream } from './support/gated-upstream.js';
import { fetchDistfile } from './support/http-client.js';
import { type RunningPortcache, startPortcache } from './support/portcache.js';
import { distLine } from './support/strict-http.js';
import { TestBed } from './support/test-bed.js';
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
  async function start(files: Record<string, Buffer>, pace?: Parameters<GatedUpstream['add']>[2]) {
    gated = await GatedUpstream.start();
    for (const [name, body] of Object.entries(files))
      gated.add(name, body, name === KNOWN ? undefined : pace);
    const known = files[KNOWN] ?? randomBytes(4 * KiB);
    const repo = await writeRepo(join(await bed.tempDir(), 'gentoo'), {
      name: 'gentoo',
      entries: { 'app-misc/known-2.4.1': `EAPI=8\nSRC_URI=mirror://gentoo/${KNOWN}\n` },
      manifests: { 'app-misc/known': distLine(KNOWN, known) },
    });
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
    const { running, dead } = await start({ [name]: body }, { bytesPerSecond: 512 * KiB });
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
});
