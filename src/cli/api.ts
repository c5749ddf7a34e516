import type { Readable } from 'node:stream';
import { request } from 'undici';

// The admin API as the `portcache` command talks to it: PORTCACHE_URL, PORTCACHE_ADMIN_TOKEN.

export interface Answer {
  status: number;
  json?: unknown;
  text: string;
}

export function baseUrl(): string {
  return (process.env.PORTCACHE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

function headers(type?: string, length?: number): Record<string, string> {
  const fields: Record<string, string> = {};
  if (process.env.PORTCACHE_ADMIN_TOKEN) fields.authorization = `Bearer ${process.env.PORTCACHE_ADMIN_TOKEN}`;
  if (type) fields['content-type'] = type;
  if (length !== undefined) fields['content-length'] = String(length);
  return fields;
}

function parse(status: number, text: string): Answer {
  try {
    return { status, json: JSON.parse(text), text };
  } catch {
    return { status, text };
  }
}

/** One call; a body is sent as application/octet-stream (an upload, no time limit on the answer). */
export async function send(
  method: 'GET' | 'DELETE' | 'PUT' | 'POST',
  path: string,
  body?: Readable,
  length?: number,
): Promise<Answer> {
  const response = await request(`${baseUrl()}${path}`, {
    method,
    headers: headers(body ? 'application/octet-stream' : undefined, length),
    body,
    // Verifying and committing a big upload takes a while before the answer.
    ...(body && { headersTimeout: 0 }),
  });
  return parse(response.statusCode, await response.body.text());
}

/** The message of an error answer. */
export function messageOf({ json, text }: Answer): string {
  return ((json as { message?: string } | undefined)?.message ?? text).trimEnd();
}

/**
 * POSTs JSON to a route answering NDJSON; each line goes to `onLine` as it arrives. An answer
 * that is not NDJSON (an error) comes back as an Answer instead.
 */
export async function postNdjson(
  path: string,
  body: unknown,
  onLine: (line: unknown) => void,
): Promise<Answer | undefined> {
  const response = await request(`${baseUrl()}${path}`, {
    method: 'POST',
    headers: headers('application/json'),
    body: JSON.stringify(body),
    // A long import: lines come as files are done, with pauses while a big one is hashed.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const type = String(response.headers['content-type'] ?? '');
  if (response.statusCode !== 200 || !type.startsWith('application/x-ndjson'))
    return parse(response.statusCode, await response.body.text());
  let rest = '';
  for await (const chunk of response.body) {
    const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
  }
  if (rest.trim()) onLine(JSON.parse(rest));
  return undefined;
}
