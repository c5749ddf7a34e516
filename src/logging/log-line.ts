/**
 * Log lines as text (people at a terminal) or JSON (journald, containers), built directly as
 * strings: the access log writes one per request on the hot path, so no object is built or
 * serialized whole; only strings go through JSON.stringify (for escaping).
 */

export type LogFormat = 'json' | 'text';

/** Nest's level names. */
export type LevelName = 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';

export interface LogEntry {
  readonly level: LevelName;
  readonly context: string | undefined;
  readonly msg: string;
  readonly requestId: string | undefined;
  /** An error's stack with its causes (see describeErrorChain). */
  readonly error?: string;
}

/** One finished request, as the access log writes it. */
export interface AccessEntry {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Bytes written to the connection, headers included. */
  readonly bytes: number;
  readonly durationMs: number;
  /** For /distfiles/ requests: hit, miss, joined, not_found, refused, error. */
  readonly result?: string;
  /** For /distfiles/ requests: cache, fill, upstream, none. */
  readonly source?: string;
  readonly client: string;
  /** False: the response was cut off. */
  readonly completed: boolean;
}

const TEXT_LEVEL: Record<LevelName, string> = {
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARN ',
  log: 'INFO ',
  debug: 'DEBUG',
  verbose: 'TRACE',
};

const JSON_LEVEL: Record<LevelName, string> = {
  fatal: '"fatal"',
  error: '"error"',
  warn: '"warn"',
  log: '"info"',
  debug: '"debug"',
  verbose: '"trace"',
};

/** At most this many causes are followed (a cycle or a very deep chain ends there). */
const MAX_CAUSES = 5;

export class LogLineFormat {
  private lastMs = -1;
  private lastTime = '';

  constructor(
    readonly format: LogFormat,
    private readonly now: () => number = Date.now,
  ) {}

  entry(entry: LogEntry): string {
    const time = this.time();
    if (this.format === 'json') {
      let line = `{"time":"${time}","level":${JSON_LEVEL[entry.level]}`;
      if (entry.context) line += `,"context":${JSON.stringify(entry.context)}`;
      line += `,"msg":${JSON.stringify(entry.msg)}`;
      if (entry.requestId) line += `,"requestId":${JSON.stringify(entry.requestId)}`;
      if (entry.error) line += `,"error":${JSON.stringify(entry.error)}`;
      return `${line}}\n`;
    }
    let line = `${time} ${TEXT_LEVEL[entry.level]}`;
    if (entry.context) line += ` ${entry.context}`;
    if (entry.requestId) line += ` [req ${entry.requestId}]`;
    line += ` ${entry.msg}`;
    if (entry.error) line += `\n${entry.error}`;
    return `${line}\n`;
  }

  access(entry: AccessEntry): string {
    const time = this.time();
    const ms = Math.round(entry.durationMs * 10) / 10;
    if (this.format === 'json') {
      const path = jsonInner(entry.path);
      let line =
        `{"time":"${time}","level":"info","context":"access","msg":"${jsonInner(entry.method)} ${path} ${entry.status}"` +
        `,"requestId":"${jsonInner(entry.id)}","method":"${jsonInner(entry.method)}","path":"${path}"` +
        `,"status":${entry.status},"bytes":${entry.bytes},"durationMs":${ms}`;
      if (entry.result) line += `,"result":"${entry.result}"`;
      if (entry.source) line += `,"source":"${entry.source}"`;
      return `${line},"client":"${jsonInner(entry.client)}","completed":${entry.completed}}\n`;
    }
    const outcome = entry.result ? (entry.source ? `${entry.result}/${entry.source}` : entry.result) : '-';
    return (
      `${time} INFO  access [req ${entry.id}] ${entry.client || '-'} ${printable(entry.method)} ${printable(entry.path)}` +
      ` ${entry.status} ${entry.bytes}B ${ms}ms ${outcome}${entry.completed ? '' : ' cut'}\n`
    );
  }

  /** ISO time, made once per millisecond (thousands of lines may share one). */
  private time(): string {
    const ms = this.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = new Date(ms).toISOString();
    }
    return this.lastTime;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: what JSON must escape
const JSON_UNSAFE = /["\\\x00-\x1f\ud800-\udfff]/;

/** A string's JSON form without its quotes; most need no escaping, and skip JSON.stringify. */
function jsonInner(value: string): string {
  return JSON_UNSAFE.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}

/** The text format prints request paths as they came: control characters must not forge lines. */
function printable(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  return /[\x00-\x1f\x7f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}

/** An error's stack (or text), then each cause's, as people debugging want it. */
export function describeErrorChain(error: unknown): string {
  let text = describeOne(error);
  let cause = (error as { cause?: unknown } | undefined)?.cause;
  for (let depth = 0; cause !== undefined && cause !== null && depth < MAX_CAUSES; depth++) {
    text += `\ncaused by: ${describeOne(cause)}`;
    cause = (cause as { cause?: unknown }).cause;
  }
  return text;
}

function describeOne(error: unknown): string {
  if (error instanceof Error) {
    let text = error.stack ?? `${error.name}: ${error.message}`;
    if (error instanceof AggregateError) {
      for (const inner of error.errors.slice(0, MAX_CAUSES)) text += `\n  including: ${describeOne(inner)}`;
    }
    return text;
  }
  return typeof error === 'string' ? error : String(error);
}
