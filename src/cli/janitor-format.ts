import { size } from './format.js';

// `portcache gc [--dry-run]`: the janitor's report for a person.

export interface JanitorReport {
  dryRun: boolean;
  at: string;
  durationMs: number;
  index: { usable: boolean; why?: string };
  cache: { files: number; bytes: number; bytesAfter: number };
  byReason: Record<string, { files: number; bytes: number }>;
  evictions: Array<{ name: string; size: number; reason: string; lastAccess: string }>;
  evictionsNotListed: number;
  notes: string[];
  removed?: { files: number; bytes: number; busy: number };
  leftovers?: { files: number; bytes: number };
  quarantine?: number;
}

export function formatJanitor(r: JanitorReport): string {
  const planned = Object.values(r.byReason).reduce((n, x) => n + x.files, 0);
  const lines = [
    `${r.dryRun ? 'Dry run, nothing removed' : 'Janitor run'} at ${r.at} (${r.durationMs} ms)`,
    `  cache: ${r.cache.files} files, ${size(r.cache.bytes)}; after: ${size(r.cache.bytesAfter)}`,
    `  index: ${r.index.usable ? 'usable' : `not usable (${r.index.why}): no file goes for being unreferenced`}`,
  ];
  if (r.removed) {
    const busy = r.removed.busy ? `; ${r.removed.busy} skipped while being written` : '';
    lines.push(`  removed: ${r.removed.files} files, ${size(r.removed.bytes)}${busy}`);
  }
  lines.push(
    planned === 0 ? '  nothing to remove' : `  ${r.dryRun ? 'would remove' : 'planned'}, by reason:`,
  );
  for (const [reason, { files, bytes }] of Object.entries(r.byReason)) {
    if (files > 0)
      lines.push(`    ${reason.padEnd(13)} ${String(files).padStart(7)} files ${size(bytes).padStart(11)}`);
  }
  for (const e of r.evictions) {
    lines.push(
      `    ${e.reason.padEnd(13)} ${e.name} (${size(e.size)}, last requested ${e.lastAccess.slice(0, 16)})`,
    );
  }
  if (r.evictionsNotListed > 0) lines.push(`    ... and ${r.evictionsNotListed} more`);
  if (r.leftovers?.files) lines.push(`  leftover temporary files removed: ${r.leftovers.files}`);
  if (r.quarantine) lines.push(`  expired quarantined files deleted: ${r.quarantine}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}
