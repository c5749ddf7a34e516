import { BadRequestException, NotFoundException } from '@nestjs/common';
import { blake2bPrefix } from '../common/layout.js';

const MAX_NAME_BYTES = 255;

/**
 * Checks a distfile name, percent-decoded once. Anything that could
 * name a path outside the cache directory, or a file no Portage would ask for, is a 400.
 */
export function validateDistfileName(name: string): string {
  const reason = nameProblem(name);
  if (reason) throw new BadRequestException(`Invalid distfile name: ${reason}`);
  return name;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty';
  if (name === '.' || name === '..') return `"${name}" is not a file name`;
  if (name.includes('/') || name.includes('\\')) return 'contains a slash or backslash';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point
  if (/[\x00-\x1f\x7f]/.test(name)) return 'contains a NUL or control character';
  if (name.includes('\ufffd')) return 'is not valid UTF-8';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/** A GLEP 75 request `/distfiles/<xx>/<name>`: the prefix must be BLAKE2b(name)[0:2]. */
export function validateHashedPrefix(prefix: string, name: string): void {
  if (!/^[0-9a-f]{2}$/.test(prefix)) {
    throw new NotFoundException(`Not found: "${prefix}" is not a filename-hash BLAKE2B 8 directory`);
  }
  const expected = prefixOf(name);
  if (prefix !== expected) {
    throw new NotFoundException(`Not found: ${name} belongs in ${expected}/, not ${prefix}/`);
  }
}

/** Names asked for lately with their prefixes, at most this many (then it starts over). */
const RECENT_NAMES = 4096;
const recentPrefixes = new Map<string, string>();

/**
 * BLAKE2b(name)[0:2], remembered: hits ask for the same names again and again, and a hash object
 * per request was ~3 % of a small hit's CPU time.
 */
function prefixOf(name: string): string {
  let prefix = recentPrefixes.get(name);
  if (prefix === undefined) {
    if (recentPrefixes.size >= RECENT_NAMES) recentPrefixes.clear();
    prefix = blake2bPrefix(name);
    recentPrefixes.set(name, prefix);
  }
  return prefix;
}
