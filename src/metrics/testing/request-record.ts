import type { RequestRecord } from '../traffic.service.js';

/** A finished request for specs: a complete 200 hit of `a` from the cache, but for `fields`. */
export function requestRecord(fields: Partial<RequestRecord> = {}): RequestRecord {
  const name = fields.name ?? 'a';
  return {
    id: 'x',
    method: 'GET',
    path: `/distfiles/${name}`,
    name,
    status: 200,
    bytes: 0,
    durationMs: 1,
    result: 'hit',
    source: 'cache',
    client: '127.0.0.1',
    completed: true,
    ...fields,
  };
}
