import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';

const CHUNK = 1024 * 1024;

/** SHA-256 of bytes [from, to) of the file at `path`. */
export async function hashFileRange(path: string, from: number, to: number): Promise<string> {
  const hash = createHash('sha256');
  await eachChunk(path, from, to, (chunk) => hash.update(chunk));
  return hash.digest('hex');
}

/** Byte `position` of the file at `path`. */
export async function readByte(path: string, position: number): Promise<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    const { bytesRead } = await handle.read(byte, 0, 1, position);
    if (bytesRead !== 1) throw new Error(`${path} has no byte ${position}`);
    return byte;
  } finally {
    await handle.close();
  }
}

/** Whether bytes [from, to) of two files are equal. */
export async function sameRange(pathA: string, pathB: string, from: number, to: number): Promise<boolean> {
  const [a, b] = await Promise.all([hashFileRange(pathA, from, to), hashFileRange(pathB, from, to)]);
  return a === b;
}

async function eachChunk(
  path: string,
  from: number,
  to: number,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, to - from)));
    for (let position = from; position < to; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, to - position), position);
      if (bytesRead === 0) throw new Error(`${path} ends at ${position}, before ${to}`);
      onChunk(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
