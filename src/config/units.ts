const SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500M`, `2G`, `1.5T`, `4096` (bytes); binary units, optional trailing `B`/`iB`. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()]);
}

/** `500ms`, `30s`, `15m`, `12h`, `30d`; a unit is required. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]]);
}

/** `90%`, `12.5%` as a fraction (0.9, 0.125); 0–100 %. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  if (!m || Number(m[1]) > 100) return undefined;
  return Number(m[1]) / 100;
}

/** A size in bytes, or a share of something (`10%`). */
export type SizeOrShare = { readonly bytes: number } | { readonly fraction: number };

export function parseSizeOrShare(text: string): SizeOrShare | undefined {
  const fraction = parsePercent(text);
  if (fraction !== undefined) return { fraction };
  const bytes = parseSize(text);
  return bytes === undefined ? undefined : { bytes };
}

/** A cron expression of 5 or 6 fields (every 6 hours: `0 0-23/6 * * *`), as @nestjs/schedule takes it; a shape check. */
export function isCronExpression(text: string): boolean {
  const fields = text.trim().split(/\s+/);
  return (
    (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[\d*/,\-A-Za-z?LW#]+$/.test(f))
  );
}

/** Whitespace-separated list, as GENTOO_MIRRORS. */
export function parseList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}
