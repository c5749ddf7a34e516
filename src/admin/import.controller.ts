import { PassThrough } from 'node:stream';
import { BadRequestException, Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminTokenGuard } from './admin-token.guard.js';
import { DirectoryImporter } from './directory-importer.service.js';
import type { ImportEvent } from './import-tally.js';
import { readJsonBody } from './json-body.js';

interface ImportRequest {
  dir: string;
  unverified: boolean;
  fingerprint?: string;
}

/**
 * `portcache import DIR` when the server can read DIR itself: `POST /api/v1/import` with
 * `{"dir": "/var/cache/distfiles", "unverified": false, "fingerprint": "..."}` (token required)
 * answers NDJSON, one ImportEvent a line, as the import goes; the client leaving stops it after
 * the file in progress. Errors before the first line (404, 403, 409: the command uploads the
 * files instead) are ordinary JSON errors.
 */
@Controller('api/v1')
export class ImportController {
  constructor(private readonly importer: DirectoryImporter) {}

  @Post('import')
  @UseGuards(AdminTokenGuard)
  async importDirectory(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { dir, unverified, fingerprint } = parseImportRequest(await readJsonBody(request.raw));
    const listing = await this.importer.list(dir, fingerprint);
    const lines = new PassThrough();
    const stop = new AbortController();
    reply.raw.once('close', () => stop.abort());
    reply.code(200).header('content-type', 'application/x-ndjson; charset=utf-8').send(lines);
    const emit = (event: ImportEvent) => lines.write(`${JSON.stringify(event)}\n`);
    this.importer
      .run(dir, listing, { unverified, signal: stop.signal }, emit)
      .catch((error: Error) => emit({ event: 'error', message: error.message }))
      .finally(() => lines.end());
  }
}

function parseImportRequest(body: unknown): ImportRequest {
  const { dir, unverified, fingerprint } = (body ?? {}) as Record<string, unknown>;
  if (typeof dir !== 'string' || dir === '') throw new BadRequestException('"dir": the directory to import');
  if (unverified !== undefined && typeof unverified !== 'boolean')
    throw new BadRequestException('"unverified": true or false');
  if (fingerprint !== undefined && typeof fingerprint !== 'string')
    throw new BadRequestException('"fingerprint": the string portcache import computes');
  return { dir, unverified: unverified === true, fingerprint };
}
