import { BadRequestException, NotFoundException } from '@nestjs/common';
import { validateDistfileName, validateHashedPrefix } from './distfile-name.js';

export const DISTFILES = '/distfiles/';

/** What a `/distfiles/...` URL asks for. */
export type DistfilePath = { readonly kind: 'layout' } | { readonly kind: 'file'; readonly name: string };

/**
 * `/distfiles/layout.conf`, `/distfiles/<name>` or `/distfiles/<xx>/<name>` (GLEP 75: xx must be
 * BLAKE2b(name)[0:2]); percent-encoding decoded once, a query ignored. Throws a 400 for a name
 * no Portage would ask for and a 404 for anything else.
 */
export function parseDistfilePath(url: string): DistfilePath {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (!path.startsWith(DISTFILES))
    throw new NotFoundException(`Not found: ${path} is not under ${DISTFILES}`);
  const segments = path.slice(DISTFILES.length).split('/').map(decode);
  if (segments.length === 1) {
    if (segments[0] === 'layout.conf') return { kind: 'layout' };
    return { kind: 'file', name: validateDistfileName(segments[0]) };
  }
  if (segments.length === 2) {
    const [prefix, name] = segments;
    validateDistfileName(name);
    validateHashedPrefix(prefix, name);
    return { kind: 'file', name };
  }
  throw new NotFoundException('Not found: distfiles are at /distfiles/<name> or /distfiles/<xx>/<name>');
}

function decode(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequestException('Invalid distfile name: bad percent-encoding');
  }
}
