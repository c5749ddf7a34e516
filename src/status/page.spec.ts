import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { explainError, NO_EXPLANATION } from './explain-view.js';
import { PAGE_CSP, renderPage } from './page.js';
import { esc, list } from './page-html.js';
import { PAGE_SCRIPT } from './page-script.js';
import { statusView } from './status-view.js';
import { inputs, NOW, source } from './testing/status-inputs.js';

const HOSTILE = `x<script>alert(1)</script>"'&.tar.gz`;

describe('status page HTML', () => {
  it('escapes text and attribute values', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    expect(esc(undefined)).toBe('');
  });

  it('renders a list with its row template and keyed rows', () => {
    const html = list<{ key: string; name: string }>(
      { rows: [{ key: 'k"1', name: 'one' }] },
      'rows',
      'ul',
      {},
      (item, key) => `<li data-key="${esc(key['data-key'])}">${esc(item?.name)}</li>`,
    );
    expect(html).toBe(
      '<ul data-list="rows"><template><li data-key=""></li></template><li data-key="k&#34;1">one</li></ul>',
    );
  });

  it('shows names and error texts from outside as text, in rows, keys, titles and the search box', () => {
    const view = statusView(
      inputs({
        fills: [
          {
            name: HOSTILE,
            source: `http://h/${HOSTILE}`,
            status: 'filling',
            written: 1,
            expectedSize: 2,
            bytesPerSecond: 1,
            clients: 1,
          },
        ],
        mirrors: [source({ lastBadFile: { name: HOSTILE, at: new Date(NOW).toISOString() }, badFiles: 1 })],
      }),
    );
    const html = renderPage(view, explainError(HOSTILE, `Invalid distfile name: ${HOSTILE}`), HOSTILE);
    const withoutScript = html.replace(/<script>[\s\S]*<\/script>/, '');
    expect(withoutScript).not.toContain('<script>alert');
    expect(withoutScript).not.toContain(HOSTILE);
    expect(html).toContain(`data-key="${esc(HOSTILE)}"`);
    expect(html).toContain(`>${esc(HOSTILE)}</span>`);
    expect(html).toContain(`value="${esc(HOSTILE)}"`);
    expect(html).toContain(`sent wrong bytes for ${esc(HOSTILE)}`);
  });

  it('reads right without the script: figures filled in, empty sections and an unused search answer hidden', () => {
    const html = renderPage(statusView(inputs()), NO_EXPLANATION, '');
    expect(html).toMatch(/<strong data-f="kpi.hitDay">75.0%<\/strong>/);
    expect(html).toMatch(/<p class="empty" data-show="fills.empty">No download running/);
    expect(html).toMatch(/<section class="card" id="explain" aria-live="polite" data-show="shown" hidden>/);
    expect(html).toMatch(/<i data-w="cache.bar" style="width:25%">/);
    expect(html).not.toMatch(/<(link|img|iframe)\b/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('allows only its own script to run (CSP hash)', () => {
    const hash = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
    expect(PAGE_CSP).toContain(`script-src 'sha256-${hash}'`);
    expect(PAGE_CSP).toContain("default-src 'none'");
    expect(renderPage(statusView(inputs()), NO_EXPLANATION, '')).toContain(`<script>${PAGE_SCRIPT}</script>`);
    expect(PAGE_SCRIPT).not.toContain('innerHTML');
    expect(PAGE_SCRIPT).not.toContain('</script');
  });
});
