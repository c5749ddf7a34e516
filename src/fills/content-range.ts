/** `Content-Range: bytes start-end/total` (total `*`: unknown); undefined when malformed or absent. */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}
