import type { Readable } from 'node:stream';
import { BadRequestException, Injectable, UnprocessableEntityException } from '@nestjs/common';
import type { Digests } from '../cache/digests.js';
import { FillService, ImportBroken, ImportMismatch } from '../fills/fill.service.js';

/**
 * `portcache import`: puts a file the admin downloaded (fetch-restricted ones) into the cache.
 * The upload is a fill (FillService.import): checked against the Manifest, the name's only
 * writer meanwhile, joined by requests for it; a mismatch is quarantined and refused.
 */
@Injectable()
export class DistfileImporter {
  constructor(private readonly fills: FillService) {}

  async importFile(name: string, body: Readable): Promise<{ digests: Digests; verified: boolean }> {
    try {
      return await this.fills.import(name, body);
    } catch (error) {
      if (error instanceof ImportBroken) throw new BadRequestException(error.message);
      if (error instanceof ImportMismatch) throw new UnprocessableEntityException(error.message);
      throw error;
    }
  }
}
