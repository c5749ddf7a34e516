import type { ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Status, message and Retry-After of whatever was thrown; `unexpected`: not an HttpException (a bug, worth a stack trace). */
export function describeError(exception: unknown): {
  status: number;
  message: string;
  retryAfter: number | undefined;
  unexpected: boolean;
} {
  const known = exception instanceof HttpException;
  return {
    status: known ? exception.getStatus() : 500,
    message: known ? exception.message : 'Internal server error',
    retryAfter: (exception as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds,
    unexpected: !known,
  };
}

/**
 * An error as a text response on a raw Node response: the reason in the status line (wget
 * prints it) and a one-line body. A response already under way is cut off instead.
 */
export function writeTextError(res: ServerResponse, exception: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, message, retryAfter } = describeError(exception);
  const body = `${message}\n`;
  const fields = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  ];
  if (retryAfter !== undefined) fields.push('retry-after', String(retryAfter));
  res.writeHead(status, reasonPhrase(message), fields).end(body);
}

/**
 * Errors as a human reads them: the reason goes into the status line (wget prints it) and a
 * one-line text body (JSON under /api). A response already under way is cut off, never ended
 * cleanly, so a client can't take a truncated body for a whole file.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    const { status, message, retryAfter, unexpected } = describeError(exception);
    if (unexpected) {
      this.logger.error(`${request.method} ${request.url}: ${(exception as Error)?.stack ?? exception}`);
    }
    reply.raw.statusMessage = reasonPhrase(message);
    reply.code(status);
    if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
    if (request.url.startsWith('/api/')) {
      reply.send({ statusCode: status, message });
    } else {
      reply.header('content-type', 'text/plain; charset=utf-8').send(`${message}\n`);
    }
  }
}

function reasonPhrase(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}
