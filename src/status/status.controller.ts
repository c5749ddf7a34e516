import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { type ExplainView, NO_EXPLANATION } from './explain-view.js';
import { PAGE_CSP, renderPage } from './page.js';
import { StatusService } from './status.service.js';
import type { StatusView } from './status-view.js';

/** A query value as one string: `?explain=a&explain=b` takes the first. */
function one(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first.trim() : '';
}

/**
 * The status page an admin opens in a browser (`/`, `/status`), and what its script polls.
 * Read-only and without a token, like GET /api/v1/stats: changes stay behind the token in the API.
 */
@Controller()
export class StatusController {
  constructor(private readonly status: StatusService) {}

  /** The whole page with the figures of now; `?explain=NAME` adds the search box's answer. */
  @Get(['/', 'status'])
  async page(
    @Query('explain') query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const name = one(query);
    const explanation = name ? this.status.explain(name) : NO_EXPLANATION;
    const html = renderPage(await this.status.view(), explanation, name);
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    return html;
  }

  /** The page's figures, formatted for display (the raw ones: /api/v1/stats, /fills, /mirrors, /hosts). */
  @Get('api/v1/status')
  view(): Promise<StatusView> {
    return this.status.view();
  }

  /** The search box: GET /api/v1/distfiles/:name's answer in the page's words. */
  @Get('api/v1/status/explain')
  explain(@Query('name') name: unknown): ExplainView {
    return this.status.explain(one(name));
  }
}
