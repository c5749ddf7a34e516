import { createHash } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { sleep } from './upstream-server.js';

/**
 * What one response amounted to, for tests that must tell a clean end from a cut: `clean` is a
 * response that ended without an error and with as many body bytes as its Content-Length said
 * (or, without one, that simply ended). Everything else (no status line, a socket error, a body
 * shorter than announced, our own deadline) is a cut.
 */
export interface Outcome {
  label: string;
  /** 0 when no status line arrived. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  clean: boolean;
  error?: Error;
  /** When the request was sent and when it ended (Date.now()). */
  sentAt: number;
  endedAt: number;
}

/** A GET or HEAD sent with undici, bounded by `timeoutMs`; never throws. */
export async function fetchOutcome(
  url: string,
  options: {
    label?: string;
    method?: 'GET' | 'HEAD';
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<Outcome> {
  const label = options.label ?? `${options.method ?? 'GET'} ${options.headers?.range ?? ''}`.trim();
  const sentAt = Date.now();
  const chunks: Buffer[] = [];
  let status = 0;
  let headers: Outcome['headers'] = {};
  try {
    const response = await request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
    });
    status = response.statusCode;
    headers = response.headers;
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const length = headerOf(headers, 'content-length');
    const complete = options.method === 'HEAD' || length === undefined || Number(length) === body.length;
    return { label, status, headers, body, clean: complete, sentAt, endedAt: Date.now() };
  } catch (error) {
    return {
      label,
      status,
      headers,
      body: Buffer.concat(chunks),
      clean: false,
      error: error as Error,
      sentAt,
      endedAt: Date.now(),
    };
  }
}

export function headerOf(headers: Outcome['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Whether a response that ended cleanly carried exactly the bytes of `truth` it claims to:
 * the whole file for a 200, the Content-Range slice for a 206. Responses without file bytes
 * (503, 404, 416...) claim none and pass.
 */
export function cleanAndWrong(outcome: Outcome, truth: Buffer): boolean {
  if (!outcome.clean) return false;
  if (outcome.status === 200) return !outcome.body.equals(truth);
  if (outcome.status === 206) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerOf(outcome.headers, 'content-range') ?? '');
    if (!match) return true;
    const [start, end, total] = [Number(match[1]), Number(match[2]), match[3]];
    if (total !== String(truth.length)) return true;
    return !outcome.body.equals(truth.subarray(start, end + 1));
  }
  return false;
}

/** Polls `check` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    if (await check()) return;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** GET of a JSON API route. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const response = await request(url, { signal: AbortSignal.timeout(5000) });
  if (response.statusCode !== 200) {
    throw new Error(`GET ${url}: HTTP ${response.statusCode}: ${await response.body.text()}`);
  }
  return (await response.body.json()) as T;
}

/** A /metrics scrape: each `name{labels} value` line's value, by `name{labels}`. */
export async function scrapeMetrics(base: string): Promise<Map<string, number>> {
  const text = await (await request(`${base}/metrics`)).body.text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

export const digestOf = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');

/** A Manifest DIST line with the size, BLAKE2B and SHA512 of `body`. */
export const distLine = (name: string, body: Buffer) =>
  `DIST ${name} ${body.length} BLAKE2B ${digestOf('blake2b512', body)} SHA512 ${digestOf('sha512', body)}\n`;

/** What a mirror or SRC_URI host entry of /api/v1/mirrors or /api/v1/hosts says. */
export interface BalancerEntry {
  url: string;
  circuit: string;
  consecutiveFailures: number;
  failures: number;
  [key: string]: unknown;
}

/**
 * Whether an entry of /api/v1/mirrors or /api/v1/hosts holds `source` to blame for `name`: a
 * failure, an open circuit, a count of bad files, or anything naming the file (a bad-file mark).
 */
export function blamed(entry: BalancerEntry, name: string): boolean {
  const badFiles = typeof entry.badFiles === 'number' ? entry.badFiles : 0;
  return (
    entry.failures > 0 ||
    entry.consecutiveFailures > 0 ||
    entry.circuit !== 'closed' ||
    badFiles > 0 ||
    mentions(entry, name)
  );
}

/** Whether an entry names the file anywhere (e.g. a bad-file mark). */
export function mentions(entry: BalancerEntry, name: string): boolean {
  return JSON.stringify(entry).includes(name);
}

/** This process's open descriptors: what each links to (`socket:[…]`, `/path (deleted)`...). */
export async function openDescriptors(): Promise<string[]> {
  const links: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => undefined);
    if (target !== undefined) links.push(target);
  }
  return links;
}

/** Descriptors of files (no sockets, pipes, event fds...) and of those, the deleted ones. */
export async function fileDescriptors(): Promise<{ files: string[]; deleted: string[] }> {
  const files = (await openDescriptors()).filter((target) => target.startsWith('/'));
  return { files, deleted: files.filter((target) => target.endsWith('(deleted)')) };
}

/**
 * A request body that sends `data` in `chunk`-byte pieces, one every `intervalMs`; `sent`
 * counts what was handed over so far.
 */
export function slowBody(
  data: Buffer,
  chunk: number,
  intervalMs: number,
): { body: Readable; sent: () => number } {
  let offset = 0;
  async function* pieces() {
    while (offset < data.length) {
      const piece = data.subarray(offset, Math.min(offset + chunk, data.length));
      offset += piece.length;
      yield piece;
      await sleep(intervalMs);
    }
  }
  return { body: Readable.from(pieces(), { objectMode: false }), sent: () => offset };
}
