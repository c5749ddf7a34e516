import { headerValue, type UpstreamResponse } from '../mirrors/upstream-client.service.js';
import { parseContentRange } from './content-range.js';

/** What the checks need of an upstream response. */
export type ResponseHead = Pick<UpstreamResponse, 'statusCode' | 'headers'>;

/** What the fill knows before the response: where it resumes and what length the file must have. */
export interface FillPosition {
  /** Bytes already on disk; the request asked for the rest (Range: bytes=offset-). */
  readonly offset: number;
  /** Length the file has (an earlier source's, or the Manifest's when all agree); undefined: not known. */
  readonly expectedSize: number | undefined;
  /** Lengths the Manifests allow; empty: no Manifest can verify the file. */
  readonly manifestSizes: ReadonlySet<number>;
}

/** How a response may be used, or why not (`refusal`; `badFile`: the source has another file). */
export type ResponseVerdict =
  | { readonly use: 'from-start'; readonly length: number | undefined }
  /** Another length than the bytes fetched so far, and no Manifest to tell which is right: the new file replaces them. */
  | { readonly use: 'replace'; readonly length: number }
  | { readonly use: 'resume'; readonly length: number | undefined }
  | { readonly use: 'refuse'; readonly reason: string; readonly badFile: boolean };

export function contentLength(response: ResponseHead): number | undefined {
  const value = headerValue(response.headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

export function lastModified(response: ResponseHead): Date | undefined {
  const value = headerValue(response.headers, 'last-modified');
  const date = value ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/**
 * Whether a 200 or 206 can be (the rest of) the file: an HTML page for a non-HTML name, a
 * resume that starts elsewhere or names another total, and a length no Manifest allows are
 * refused before a byte of the body is read. A 200 to a resume re-sends the file from 0
 * (`from-start`); the caller compares what it already has.
 */
export function judgeResponse(name: string, response: ResponseHead, at: FillPosition): ResponseVerdict {
  const status = response.statusCode;
  const type = headerValue(response.headers, 'content-type') ?? '';
  if (/^text\/html/i.test(type) && !/\.html?$/i.test(name)) {
    return { use: 'refuse', reason: 'sent an HTML page instead of the file', badFile: false };
  }
  const length = contentLength(response);
  if (status === 200) {
    if (at.offset > 0 && at.manifestSizes.size === 0 && length !== undefined && length !== at.expectedSize) {
      return { use: 'replace', length };
    }
    const sizeProblem = wrongSize(length, at);
    if (sizeProblem) return { use: 'refuse', reason: sizeProblem, badFile: true };
    return { use: 'from-start', length };
  }
  if (at.offset === 0) return { use: 'refuse', reason: `HTTP ${status}`, badFile: false };
  if (status !== 206) return { use: 'refuse', reason: `HTTP ${status} to a resume`, badFile: false };
  const range = parseContentRange(headerValue(response.headers, 'content-range'));
  if (range?.start !== at.offset) {
    const start = range ? range.start : 'missing';
    return {
      use: 'refuse',
      reason: `resume answered with Content-Range ${start}, not ${at.offset}`,
      badFile: false,
    };
  }
  const total = range.total;
  if (total !== undefined && wrongSize(total, at)) {
    return {
      use: 'refuse',
      reason: `resume answered with total ${total}: ${wrongSize(total, at)}`,
      badFile: true,
    };
  }
  return { use: 'resume', length: total };
}

/** Why a whole-file length cannot be this file; undefined when it can (or is not known). */
export function wrongSize(length: number | undefined, at: FillPosition): string | undefined {
  if (length === undefined) return undefined;
  if (at.manifestSizes.size > 0 && !at.manifestSizes.has(length)) {
    return `size ${length}, not the Manifest's ${[...at.manifestSizes].join(' or ')}`;
  }
  if (at.offset > 0 && at.expectedSize !== undefined && length !== at.expectedSize) {
    return `size ${length}, not the ${at.expectedSize} of the bytes already fetched`;
  }
  return undefined;
}

/**
 * The most bytes a source may send for this file: the known length, else the largest length
 * a Manifest allows; undefined when nothing bounds it. A source sending more has another file.
 */
export function byteLimit(
  expectedSize: number | undefined,
  manifestSizes: ReadonlySet<number>,
): number | undefined {
  if (expectedSize !== undefined) return expectedSize;
  return manifestSizes.size > 0 ? Math.max(...manifestSizes) : undefined;
}
