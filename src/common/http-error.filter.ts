import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const message = exception instanceof HttpException ? exception.message : 'Internal server error';
    if (status >= 500 && !(exception instanceof HttpException)) {
      this.logger.error(`${request.method} ${request.url}: ${(exception as Error)?.stack ?? exception}`);
    }
    reply.raw.statusMessage = reasonPhrase(message);
    reply.code(status);
    const retryAfter = (exception as { retryAfterSeconds?: number }).retryAfterSeconds;
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
