import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { request } from 'undici';

export interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body ended with an error (truncated response). */
  error?: Error;
}

/** GET (or HEAD) with undici; collects the body and whether it ended cleanly. */
export async function fetchDistfile(
  url: string,
  options: { method?: 'GET' | 'HEAD' | 'DELETE'; headers?: Record<string, string> } = {},
): Promise<Fetched> {
  // Split by hand: new URL() would resolve `%2e%2e` and `.` segments before they reach the server.
  const { origin, path } = /^(?<origin>https?:\/\/[^/]+)(?<path>\/.*)$/.exec(url)?.groups ?? {};
  const target = { origin, path } as unknown as URL;
  const response = await request(target, { method: options.method ?? 'GET', headers: options.headers });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
  } catch (error) {
    return {
      status: response.statusCode,
      headers: response.headers,
      body: Buffer.concat(chunks),
      error: error as Error,
    };
  }
}

/** Portage's FETCHCOMMAND (RESUMECOMMAND with `resume`): wget -t 3 -T 60 [-c] -O FILE URL. */
export function wget(url: string, output: string, resume = false): Promise<{ code: number; stderr: string }> {
  const args = [
    '-t',
    '3',
    '-T',
    '60',
    '--passive-ftp',
    '-U',
    'Portage test distfile-fetch',
    '-O',
    output,
    url,
  ];
  if (resume) args.unshift('-c');
  return new Promise((resolve) => {
    execFile('wget', args, (error, _stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

/** A GET sent byte for byte (no URL normalisation of `.`/`..`/`%2e`); returns status and body. */
export function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body: rest.join('\r\n\r\n') });
    });
  });
}
