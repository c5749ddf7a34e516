import { execFile } from 'node:child_process';
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
  const response = await request(url, { method: options.method ?? 'GET', headers: options.headers });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
  } catch (error) {
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks), error: error as Error };
  }
}

/** Portage's FETCHCOMMAND (RESUMECOMMAND with `resume`): wget -t 3 -T 60 [-c] -O FILE URL. */
export function wget(url: string, output: string, resume = false): Promise<{ code: number; stderr: string }> {
  const args = ['-t', '3', '-T', '60', '--passive-ftp', '-U', 'Portage test distfile-fetch', '-O', output, url];
  if (resume) args.unshift('-c');
  return new Promise((resolve) => {
    execFile('wget', args, (error, _stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}
