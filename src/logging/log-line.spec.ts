import { describe, expect, it } from 'vitest';
import { describeErrorChain, LogLineFormat } from './log-line.js';

const AT = Date.parse('2026-12-01T10:00:00.000Z');
const access = {
  id: 'abc-1',
  method: 'GET',
  path: '/distfiles/ab/x "y".tar.gz',
  status: 200,
  bytes: 1234,
  durationMs: 12.345,
  result: 'hit',
  source: 'cache',
  client: '127.0.0.1',
  completed: true,
};

describe('LogLineFormat', () => {
  it('JSON: one parseable line per entry, strings escaped, absent fields left out', () => {
    const format = new LogLineFormat('json', () => AT);
    const line = format.entry({
      level: 'warn',
      context: 'FillService',
      msg: 'a "quoted"\nmessage\u0001',
      requestId: 'abc-1',
    });
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2026-12-01T10:00:00.000Z',
      level: 'warn',
      context: 'FillService',
      msg: 'a "quoted"\nmessage\u0001',
      requestId: 'abc-1',
    });
    const bare = JSON.parse(
      format.entry({ level: 'log', context: undefined, msg: 'm', requestId: undefined }),
    );
    expect(bare).toEqual({ time: '2026-12-01T10:00:00.000Z', level: 'info', msg: 'm' });
    const failed = JSON.parse(
      format.entry({
        level: 'error',
        context: 'X',
        msg: 'm',
        requestId: undefined,
        error: 'Error: e\n    at f',
      }),
    );
    expect(failed.error).toBe('Error: e\n    at f');
  });

  it('JSON access lines carry every field; /api lines have no result', () => {
    const format = new LogLineFormat('json', () => AT);
    expect(JSON.parse(format.access(access))).toEqual({
      time: '2026-12-01T10:00:00.000Z',
      level: 'info',
      context: 'access',
      msg: 'GET /distfiles/ab/x "y".tar.gz 200',
      requestId: 'abc-1',
      method: 'GET',
      path: '/distfiles/ab/x "y".tar.gz',
      status: 200,
      bytes: 1234,
      durationMs: 12.3,
      result: 'hit',
      source: 'cache',
      client: '127.0.0.1',
      completed: true,
    });
    const api = JSON.parse(
      format.access({ ...access, result: undefined, source: undefined, path: '/metrics' }),
    );
    expect(api).not.toHaveProperty('result');
    expect(api).not.toHaveProperty('source');
  });

  it('text: time, level, context, request id, message', () => {
    const format = new LogLineFormat('text', () => AT);
    expect(format.entry({ level: 'warn', context: 'FillService', msg: 'slow', requestId: '1a2b-3' })).toBe(
      '2026-12-01T10:00:00.000Z WARN  FillService [req 1a2b-3] slow\n',
    );
    expect(format.entry({ level: 'log', context: undefined, msg: 'up', requestId: undefined })).toBe(
      '2026-12-01T10:00:00.000Z INFO  up\n',
    );
    expect(
      format.entry({ level: 'error', context: 'X', msg: 'boom', requestId: undefined, error: 'Error: e' }),
    ).toBe('2026-12-01T10:00:00.000Z ERROR X boom\nError: e\n');
    expect(format.access(access)).toBe(
      '2026-12-01T10:00:00.000Z INFO  access [req abc-1] 127.0.0.1 GET /distfiles/ab/x "y".tar.gz 200 1234B 12.3ms hit/cache\n',
    );
    expect(format.access({ ...access, completed: false, result: undefined, client: '' })).toMatch(
      / - GET .* 12\.3ms - cut\n$/,
    );
  });

  it('text: control characters in a path cannot start a line of their own', () => {
    const format = new LogLineFormat('text', () => AT);
    const line = format.access({ ...access, path: '/distfiles/x\n2026-12-01T10:00:00.000Z ERROR forged' });
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toContain('/distfiles/x\\n2026');
  });

  it('makes the time string once per millisecond', () => {
    let now = AT;
    const format = new LogLineFormat('json', () => now);
    const a = JSON.parse(format.entry({ level: 'log', context: undefined, msg: 'a', requestId: undefined }));
    now += 1;
    const b = JSON.parse(format.entry({ level: 'log', context: undefined, msg: 'b', requestId: undefined }));
    expect([a.time, b.time]).toEqual(['2026-12-01T10:00:00.000Z', '2026-12-01T10:00:00.001Z']);
  });
});

describe('describeErrorChain', () => {
  it('follows causes, bounded', () => {
    const inner = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const outer = new Error('fetch failed', { cause: inner });
    const text = describeErrorChain(outer);
    expect(text).toMatch(/^Error: fetch failed\n\s+at /);
    expect(text).toContain('\ncaused by: Error: connect ECONNREFUSED 127.0.0.1:1\n');
    const looped = new Error('loop');
    (looped as { cause?: unknown }).cause = looped;
    expect(describeErrorChain(looped).match(/caused by/g)).toHaveLength(5);
  });

  it('names the errors of an AggregateError, and takes what is not an Error', () => {
    const text = describeErrorChain(
      new AggregateError([new Error('v4 refused'), new Error('v6 refused')], 'all failed'),
    );
    expect(text).toContain('including: Error: v4 refused');
    expect(text).toContain('including: Error: v6 refused');
    expect(describeErrorChain('plain')).toBe('plain');
    expect(describeErrorChain(new Error('x', { cause: { code: 'E' } }))).toContain(
      'caused by: [object Object]',
    );
  });
});
