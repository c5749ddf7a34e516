import type { IncomingMessage } from 'node:http';
import { BadRequestException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';

/**
 * A small JSON request body, read by the route itself: the app parses no bodies (see
 * configureApp), so a route taking JSON reads it here, bounded.
 */
export async function readJsonBody(request: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (type.split(';', 1)[0].trim().toLowerCase() !== 'application/json')
    throw new UnsupportedMediaTypeException(`Content-Type ${type || 'none'} refused: send application/json`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      request.destroy();
      throw new PayloadTooLargeException(`a JSON body of at most ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequestException('the body is not JSON');
  }
}
