import {
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  UseGuards,
} from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { validateDistfileName } from '../distfile/distfile-name.js';
import { FillService } from '../fills/fill.service.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { AdminTokenGuard } from './admin-token.guard.js';

@Controller('api/v1')
export class AdminController {
  constructor(
    private readonly store: CacheStore,
    private readonly fills: FillService,
    private readonly balancer: MirrorBalancer,
  ) {}

  /** Each mirror's health and scores, best first. */
  @Get('mirrors')
  mirrors() {
    return this.balancer.snapshot();
  }

  @Delete('distfiles/:name')
  @UseGuards(AdminTokenGuard)
  @HttpCode(200)
  async removeDistfile(@Param('name') name: string): Promise<{ removed: string }> {
    validateDistfileName(name);
    if (this.fills.isFilling(name))
      throw new ConflictException(`${name} is being filled; try again when it is done`);
    if (!(await this.store.remove(name))) throw new NotFoundException(`${name} is not cached`);
    return { removed: name };
  }
}
