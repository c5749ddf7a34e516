// HTML for the status page, bound to the view model: each element that shows a figure names its
// path in a data- attribute, and the page's script (page-script.ts) sets the same element from
// the polled JSON with textContent, a width or a state. The markup exists once (here); a list's
// <template> is its row rendered without data, which the script clones for new rows.

/** Escapes text for HTML text and quoted attribute values. Names and error texts come from outside. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A value at a dotted path; undefined along the way (a template row) gives undefined. */
export function at(scope: unknown, path: string): unknown {
  let value: unknown = scope;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function widthOf(value: unknown): string {
  const n = typeof value === 'number' && Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
  return `${Math.round(n * 10000) / 100}%`;
}

/** Element attributes: `cls` and plain ones; bindings are added by the helpers below. */
export type Attrs = Record<string, string | undefined>;

/** Attributes as HTML; '' is a boolean attribute (`hidden`), undefined is left out. */
export function attrs(extra: Attrs): string {
  return Object.entries(extra)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${esc(v)}"`))
    .join('');
}

/** An element whose text is the value at `path`. */
export function text(scope: unknown, path: string, tag = 'span', extra: Attrs = {}): string {
  return `<${tag}${attrs({ ...extra, 'data-f': path })}>${esc(at(scope, path))}</${tag}>`;
}

/** The attributes of an element whose state (ok, warn, bad, idle: its colour) is the value at `path`. */
export function stateAttrs(scope: unknown, path: string): Attrs {
  return { 'data-s': path, 'data-state': String(at(scope, path) ?? '') };
}

/** Attributes that hide an element while the value at `path` is false (`show`) or true (`hide`). */
export function visibility(scope: unknown, when: 'show' | 'hide', path: string): Attrs {
  const value = Boolean(at(scope, path));
  return { [`data-${when}`]: path, hidden: (when === 'show' ? !value : value) ? '' : undefined };
}

/** A horizontal bar filled to the share (0..1) at `path`, with an optional mark (a limit). */
export function bar(scope: unknown, path: string, cls = '', mark?: { at: string; shown: string }): string {
  const markHtml = mark
    ? `<b${attrs({ 'data-l': mark.at, style: `left:${widthOf(at(scope, mark.at))}`, ...visibility(scope, 'show', mark.shown) })}></b>`
    : '';
  return (
    `<span${attrs({ class: `bar ${cls}`.trim(), role: 'presentation' })}>` +
    `<i${attrs({ 'data-w': path, style: `width:${widthOf(at(scope, path))}` })}></i>${markHtml}</span>`
  );
}

/** A segment of a chart column whose height is the share at `path`. */
export function segment(scope: unknown, path: string, cls: string): string {
  return `<i${attrs({ class: cls, 'data-ht': path, style: `height:${widthOf(at(scope, path))}` })}></i>`;
}

/**
 * A list: the container, its row template, and a row per item of the array at `path`. Each
 * item has a `key` the script keeps rows by, so a row (and its bar) is updated, not replaced.
 */
export function list<T extends { key: string }>(
  scope: unknown,
  path: string,
  tag: string,
  extra: Attrs,
  row: (item: T | undefined, key: Attrs) => string,
): string {
  const items = (at(scope, path) as T[] | undefined) ?? [];
  return (
    `<${tag}${attrs({ ...extra, 'data-list': path })}><template>${row(undefined, { 'data-key': '' })}</template>` +
    `${items.map((item) => row(item, { 'data-key': item.key })).join('')}</${tag}>`
  );
}

/** A table whose rows collapse to cards at phone width; `cells` are [label, cell html] pairs. */
export function table<T extends { key: string }>(
  scope: unknown,
  path: string,
  head: readonly string[],
  row: (item: T | undefined) => string[],
  rowAttrs: (item: T | undefined) => Attrs = () => ({}),
): string {
  return (
    `<table class="rows"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
    list<T>(scope, path, 'tbody', {}, (item, key) => {
      // One element per cell: at phone width the cell is a grid of its label and that element.
      const cells = row(item).map((cell, i) => `<td data-label="${esc(head[i])}"><div>${cell}</div></td>`);
      return `<tr${attrs({ ...rowAttrs(item), ...key })}>${cells.join('')}</tr>`;
    }) +
    '</table>'
  );
}
