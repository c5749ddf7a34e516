import type { Readable } from 'node:stream';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  UnprocessableEntityException,
} from '@nestjs/common';
import { FillService, ImportBroken, ImportMismatch } from '../fills/fill.service.js';
import { type ImportResult, ImportUnverified } from '../fills/import-outcome.js';

/**
 * `portcache import`: puts a file the admin downloaded (fetch-restricted ones) into the cache.
 * The upload is a fill (FillService.import): checked against the Manifest, the name's only
 * writer meanwhile, joined by requests for it; a mismatch is quarantined and refused, a file no
 * Manifest can verify is refused unless `unverified`, the very bytes cached already are left alone.
 */
@Injectable()
export class DistfileImporter {
  constructor(private readonly fills: FillService) {}

  async importFile(name: string, body: Readable, unverified: boolean): Promise<ImportResult> {
    try {
      return await this.fills.import(name, body, { unverified });
    } catch (error) {
      if (error instanceof ImportBroken) throw new BadRequestException(error.message);
      if (error instanceof ImportMismatch) throw new UnprocessableEntityException(error.message);
      if (error instanceof ImportUnverified) throw new ConflictException(error.message);
      throw error;
    }
  }
}
