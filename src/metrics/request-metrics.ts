import { Counter } from 'prom-client';
import type { RequestRecord, RequestResult, Traffic } from './traffic.service.js';

/**
 * What a request came to. The router marks a request `miss` or `joined` before its fill is
 * known to fail; one that then got an error status came to what that status says, by the
 * router's own rule for requests it had not marked.
 */
function outcome({ result, status }: RequestRecord): RequestResult {
  if (status < 400 || (result !== 'miss' && result !== 'joined')) return result;
  return status === 404 ? 'not_found' : status >= 500 ? 'error' : 'refused';
}

/** Request methods kept as label values; anything else is `other` (label values stay bounded). */
const METHODS = new Set(['GET', 'HEAD']);

/** Counts every finished distfile request Traffic reports: by result and method, and its bytes by source. */
export function countRequests(
  traffic: Traffic,
  requests: Counter<'result' | 'method'>,
  responseBytes: Counter<'source'>,
): void {
  // Label children bound once: a hit costs two increments, no label hashing, no allocation.
  const requestCounters = new Map<string, Map<string, Counter.Internal>>();
  const bytesCounters = new Map<string, Counter.Internal>();
  traffic.onRequest((request) => {
    if (request.name === undefined) return;
    const result = outcome(request);
    const method = METHODS.has(request.method) ? request.method : 'other';
    let byMethod = requestCounters.get(result);
    if (!byMethod) {
      byMethod = new Map();
      requestCounters.set(result, byMethod);
    }
    let counter = byMethod.get(method);
    if (!counter) {
      counter = requests.labels(result, method);
      byMethod.set(method, counter);
    }
    counter.inc();
    if (request.source === 'none') return;
    let bytes = bytesCounters.get(request.source);
    if (!bytes) {
      bytes = responseBytes.labels(request.source);
      bytesCounters.set(request.source, bytes);
    }
    bytes.inc(request.bytes);
  });
}
