import type { Readable } from 'node:stream';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  UnprocessableEntityException,
} from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import type { Digests } from '../cache/digests.js';
import { FillService } from '../fills/fill.service.js';
import { copyBodyToPartial } from '../fills/partial-file-sink.js';
import { Metrics } from '../metrics/metrics.service.js';
import { manifestMismatch } from '../repository/manifest-check.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';

/**
 * `portcache import`: puts a file the admin downloaded (fetch-restricted ones) into the cache,
 * checked against the Manifest like a fill; a mismatch is quarantined and refused.
 */
@Injectable()
export class DistfileImporter {
  private readonly logger = new Logger(DistfileImporter.name);

  constructor(
    private readonly store: CacheStore,
    private readonly fills: FillService,
    private readonly resolver: SrcUriResolver,
    private readonly metrics: Metrics,
  ) {}

  async importFile(name: string, body: Readable): Promise<{ digests: Digests; verified: boolean }> {
    if (this.fills.isFilling(name))
      throw new ConflictException(`${name} is being filled; try again when it is done`);
    const entry = this.resolver.lookup(name);
    const partial = await this.store.createPartial(name);
    try {
      await copyBodyToPartial(body, partial);
    } catch (error) {
      await this.store.discard(partial);
      partial.fail(error as Error);
      throw new BadRequestException(`${name}: the upload broke off: ${(error as Error).message}`);
    }
    const digests = partial.end();
    const mismatch = manifestMismatch(digests, entry);
    if (mismatch) {
      this.metrics.verificationFailures.inc({ where: 'import' });
      partial.fail(new Error(mismatch));
      await this.store.quarantinePartial(partial, `import: ${mismatch}`);
      throw new UnprocessableEntityException(`${name}: ${mismatch}; not imported (kept in quarantine)`);
    }
    await this.store.commit(partial, digests);
    this.logger.log(`${name}: imported ${digests.size} bytes${entry?.verifiable ? ', verified' : ''}`);
    return { digests, verified: entry?.verifiable === true };
  }
}
