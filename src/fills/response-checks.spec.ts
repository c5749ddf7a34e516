import { describe, expect, it } from 'vitest';
import { byteLimit, judgeResponse, lastModified, wrongSize } from './response-checks.js';

const none = new Set<number>();
const fresh = { offset: 0, expectedSize: undefined, manifestSizes: none };

function response(statusCode: number, headers: Record<string, string> = {}) {
  return { statusCode, headers };
}

describe('judgeResponse', () => {
  it('takes a 200 from the start, with its length', () => {
    expect(judgeResponse('a.tar.gz', response(200, { 'content-length': '10' }), fresh)).toEqual({
      use: 'from-start',
      length: 10,
    });
    expect(judgeResponse('a.tar.gz', response(200), fresh)).toEqual({ use: 'from-start', length: undefined });
  });

  it('refuses an HTML page for a tarball, but not for an .html distfile', () => {
    const html = response(200, { 'content-type': 'text/html; charset=utf-8' });
    expect(judgeResponse('a.tar.gz', html, fresh)).toMatchObject({ use: 'refuse', badFile: false });
    expect(judgeResponse('doc.html', html, fresh)).toMatchObject({ use: 'from-start' });
  });

  it('refuses a length no Manifest allows as another file, before reading the body', () => {
    const at = { ...fresh, manifestSizes: new Set([100, 120]) };
    expect(judgeResponse('a', response(200, { 'content-length': '120' }), at)).toMatchObject({
      use: 'from-start',
    });
    expect(judgeResponse('a', response(200, { 'content-length': '99' }), at)).toEqual({
      use: 'refuse',
      reason: "size 99, not the Manifest's 100 or 120",
      badFile: true,
    });
  });

  it('refuses other statuses as failures of the source', () => {
    expect(judgeResponse('a', response(500), fresh)).toEqual({
      use: 'refuse',
      reason: 'HTTP 500',
      badFile: false,
    });
    expect(judgeResponse('a', response(206), fresh)).toMatchObject({ use: 'refuse' });
  });

  it('takes a resume only when it starts at the offset with the same total', () => {
    const at = { offset: 50, expectedSize: 100, manifestSizes: none };
    const ok = response(206, { 'content-range': 'bytes 50-99/100' });
    expect(judgeResponse('a', ok, at)).toEqual({ use: 'resume', length: 100 });
    expect(judgeResponse('a', response(206, { 'content-range': 'bytes 40-99/100' }), at)).toMatchObject({
      use: 'refuse',
      badFile: false,
    });
    expect(judgeResponse('a', response(206, { 'content-range': 'bytes 50-109/110' }), at)).toMatchObject({
      use: 'refuse',
      badFile: true,
    });
    expect(judgeResponse('a', response(416), at)).toMatchObject({
      use: 'refuse',
      reason: 'HTTP 416 to a resume',
    });
  });

  it('treats a 200 to a resume as the file from the start; another length replaces an unverifiable file', () => {
    const at = { offset: 50, expectedSize: 100, manifestSizes: none };
    expect(judgeResponse('a', response(200, { 'content-length': '100' }), at)).toMatchObject({
      use: 'from-start',
    });
    expect(judgeResponse('a', response(200, { 'content-length': '101' }), at)).toEqual({
      use: 'replace',
      length: 101,
    });
    const verified = { ...at, manifestSizes: new Set([100]) };
    expect(judgeResponse('a', response(200, { 'content-length': '101' }), verified)).toMatchObject({
      use: 'refuse',
      badFile: true,
    });
  });
});

describe('size limits', () => {
  it('bounds a source by the known length, else the largest Manifest length', () => {
    expect(byteLimit(10, new Set([20]))).toBe(10);
    expect(byteLimit(undefined, new Set([20, 30]))).toBe(30);
    expect(byteLimit(undefined, none)).toBeUndefined();
  });

  it('knows no problem with an unknown length', () => {
    expect(
      wrongSize(undefined, { offset: 5, expectedSize: 10, manifestSizes: new Set([10]) }),
    ).toBeUndefined();
  });
});

describe('lastModified', () => {
  it('parses an HTTP date and ignores garbage', () => {
    expect(
      lastModified(response(200, { 'last-modified': 'Tue, 01 Oct 2024 10:00:00 GMT' }))?.toISOString(),
    ).toBe('2024-10-01T10:00:00.000Z');
    expect(lastModified(response(200, { 'last-modified': 'yesterday' }))).toBeUndefined();
  });
});
