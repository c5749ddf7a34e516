import type { ServerResponse } from 'node:http';
import type { ByteRange } from './http-range.js';

export const OCTET_STREAM = 'application/octet-stream';
const UNSATISFIABLE = 'Range Not Satisfiable\n';

/** Adds the length fields of a body response (`range` undefined: the whole file); returns its status. */
export function lengthFields(fields: string[], range: ByteRange | undefined, size: number): number {
  if (!range) {
    fields.push('content-type', OCTET_STREAM, 'content-length', String(size));
    return 200;
  }
  fields.push(
    'content-type',
    OCTET_STREAM,
    'content-range',
    `bytes ${range.start}-${range.end}/${size}`,
    'content-length',
    String(range.end - range.start + 1),
  );
  return 206;
}

export function unsatisfiable(res: ServerResponse, fields: string[], size: number): void {
  fields.push('content-range', `bytes */${size}`, 'content-type', 'text/plain');
  fields.push('content-length', String(UNSATISFIABLE.length));
  res.writeHead(416, fields).end(UNSATISFIABLE);
}
