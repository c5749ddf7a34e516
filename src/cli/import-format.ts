import type { ImportSummary } from '../admin/import-tally.js';
import { size } from './format.js';

/** Names shown per skip reason; the counts are complete. */
const NAMES_PER_REASON = 10;

/** Skipped names by reason, as the command saw them go by (the summary has counts only). */
export class SkippedNames {
  readonly byReason = new Map<string, string[]>();

  add(name: string, reason: string): void {
    const names = this.byReason.get(reason) ?? [];
    this.byReason.set(reason, names);
    if (names.length < NAMES_PER_REASON) names.push(name);
  }
}

/** The end of `portcache import DIR`: what became of the files, for a person. */
export function formatImportSummary(
  dir: string,
  how: 'server' | 'upload',
  s: ImportSummary,
  skipped: SkippedNames,
): string {
  const way = how === 'server' ? 'read by the server' : 'uploaded through the API';
  const unverified = s.importedUnverified > 0 ? `, ${s.importedUnverified} of them unverified` : '';
  const lines = [
    `Import of ${dir} (${way}) in ${(s.durationMs / 1000).toFixed(1)} s:`,
    `  imported        ${s.imported} (${size(s.importedBytes)})${unverified}`,
    `  already cached  ${s.alreadyCached}`,
    `  mismatched      ${s.mismatched}${s.mismatched > 0 ? ' (not imported; a copy is kept in quarantine)' : ''}`,
  ];
  for (const f of s.mismatchedFiles) lines.push(`    ${f.reason}`);
  lines.push(`  skipped         ${s.skipped}`);
  for (const [reason, count] of Object.entries(s.skippedByReason)) {
    const names = skipped.byReason.get(reason) ?? [];
    const more = count > names.length ? `, ... (${count - names.length} more)` : '';
    lines.push(
      `    ${String(count).padStart(5)}  ${reason}${names.length > 0 ? `: ${names.join(', ')}${more}` : ''}`,
    );
  }
  lines.push(`  failed          ${s.failed}`);
  for (const f of s.failedFiles) lines.push(`    ${f.name}: ${f.reason}`);
  return lines.join('\n');
}
