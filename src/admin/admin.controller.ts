import {
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Put,
  Query,
  Req,
  Res,
  UnsupportedMediaTypeException,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CacheStore } from '../cache/cache-store.service.js';
import { validateDistfileName } from '../distfile/distfile-name.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { DistfileExplainer } from './distfile-explainer.service.js';
import { DistfileImporter } from './distfile-importer.service.js';

@Controller('api/v1')
export class AdminController {
  constructor(
    private readonly store: CacheStore,
    private readonly balancer: MirrorBalancer,
    private readonly importer: DistfileImporter,
    private readonly explainer: DistfileExplainer,
  ) {}

  /** Each mirror's health and scores, best first. */
  @Get('mirrors')
  mirrors() {
    return this.balancer.snapshot();
  }

  /** SRC_URI hosts asked so far, with the same health state as mirrors. */
  @Get('hosts')
  hosts() {
    return this.balancer.hostsSnapshot();
  }

  /** What portcache knows about a distfile and where it would fetch it from, with reasons. */
  @Get('distfiles/:name')
  explain(@Param('name') name: string) {
    return this.explainer.explain(name);
  }

  /**
   * Adds a file downloaded by hand (fetch-restricted distfiles); the body is the file. A file no
   * Manifest can verify only with `?unverified=1` (409 otherwise); 200 when these very bytes
   * are cached already (nothing rewritten), 201 when imported.
   */
  @Put('distfiles/:name')
  @UseGuards(AdminTokenGuard)
  @HttpCode(201)
  async importDistfile(
    @Param('name') name: string,
    @Query('unverified') unverified: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    validateDistfileName(name);
    // Bytes only: a form or JSON body would be stored as the file. No type at all is taken as
    // bytes (RFC 9110, 8.3): `curl -T` sends none; `portcache import` sends application/octet-stream.
    const type = request.headers['content-type'];
    if (type !== undefined && type.split(';', 1)[0].trim().toLowerCase() !== 'application/octet-stream') {
      throw new UnsupportedMediaTypeException(
        `Content-Type ${type} refused: send the file as application/octet-stream`,
      );
    }
    const allowUnverified = unverified !== undefined && unverified !== '0' && unverified !== 'false';
    const { digests, verified, alreadyCached } = await this.importer.importFile(
      name,
      request.raw,
      allowUnverified,
    );
    if (alreadyCached) reply.code(200);
    return { imported: name, ...digests, verified, alreadyCached };
  }

  @Delete('distfiles/:name')
  @UseGuards(AdminTokenGuard)
  @HttpCode(200)
  async removeDistfile(@Param('name') name: string): Promise<{ removed: string }> {
    validateDistfileName(name);
    const outcome = await this.store.remove(name);
    if (outcome === 'busy')
      throw new ConflictException(`${name} is being written; try again when it is done`);
    if (outcome === 'missing') throw new NotFoundException(`${name} is not cached`);
    return { removed: name };
  }
}
