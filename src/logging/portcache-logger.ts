import type { LoggerService, LogLevel } from '@nestjs/common';
import { type AccessEntry, describeErrorChain, type LevelName, type LogLineFormat } from './log-line.js';
import type { LogWriter } from './log-writer.js';
import { requestContext } from './request-context.js';

const DEFAULT_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log'];

/** A stack trace as Nest passes it to error(message, stack, context). */
const STACK = /\n\s+at /;

/**
 * Nest's logger for portcache: every line in one format (text or JSON lines), tagged with the
 * id of the request being handled when it was logged, written in batches. Errors passed as
 * objects are written with their stack and causes.
 */
export class PortcacheLogger implements LoggerService {
  private levels: ReadonlySet<LogLevel>;

  constructor(
    private readonly format: LogLineFormat,
    private readonly writer: LogWriter,
    levels: LogLevel[] = DEFAULT_LEVELS,
  ) {
    this.levels = new Set(levels);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  setLogLevels(levels: LogLevel[]): void {
    this.levels = new Set(levels);
  }

  /** One access-log line. */
  access(entry: AccessEntry): void {
    this.writer.write(this.format.access(entry));
  }

  private write(level: LevelName, message: unknown, params: unknown[]): void {
    if (!this.levels.has(level)) return;
    // Nest's Logger passes its context last; before it, error() may get a stack or an error.
    let context: string | undefined;
    let end = params.length;
    const last = params[end - 1];
    if (typeof last === 'string' && !STACK.test(last)) {
      context = last;
      end -= 1;
    }
    let msg: string;
    let error: string | undefined;
    if (message instanceof Error) {
      msg = message.message;
      error = describeErrorChain(message);
    } else {
      msg = typeof message === 'string' ? message : stringify(message);
    }
    for (let i = 0; i < end; i++) {
      const param = params[i];
      if (param === undefined) continue;
      if (param instanceof Error || (typeof param === 'string' && STACK.test(param))) {
        error = error === undefined ? describeErrorChain(param) : `${error}\n${describeErrorChain(param)}`;
      } else {
        msg += ` ${typeof param === 'string' ? param : stringify(param)}`;
      }
    }
    this.writer.write(
      this.format.entry({ level, context, msg, requestId: requestContext.getStore(), error }),
    );
  }
}

function stringify(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
