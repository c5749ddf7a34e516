import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashThreads } from './hash-threads.js';

const digestsOf = (bytes: Buffer) => ({
  size: bytes.length,
  BLAKE2B: createHash('blake2b512').update(bytes).digest('hex'),
  SHA512: createHash('sha512').update(bytes).digest('hex'),
});

describe.each([1, 2] as const)('HashThreads with %i thread(s)', (count) => {
  const threads = new HashThreads(count);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcache-hash-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  afterAll(() => threads.close());

  it('hashes a file as it is written, in pieces of any size', async () => {
    const path = join(dir, 'a.part');
    const handle = await open(path, 'wx+');
    const digester = threads.open(path);
    const body = randomBytes(3 * 1024 * 1024 + 17);
    for (let at = 0; at < body.length; at += 700_001) {
      const piece = body.subarray(at, at + 700_001);
      await handle.write(piece, 0, piece.length, at);
      digester.advance(at + piece.length);
    }
    expect(await digester.digest(body.length)).toEqual(digestsOf(body));
    await handle.close();
  });

  it('after a restart, hashes what the file holds from then on, not what was cut away', async () => {
    const path = join(dir, 'b.part');
    const handle = await open(path, 'wx+');
    const digester = threads.open(path);
    const first = randomBytes(2 * 1024 * 1024);
    await handle.write(first, 0, first.length, 0);
    digester.advance(first.length);
    const keep = 1024 * 1024 + 3;
    digester.restart(keep);
    await handle.truncate(keep);
    const rest = randomBytes(1500);
    await handle.write(rest, 0, rest.length, keep);
    digester.advance(keep + rest.length);
    expect(await digester.digest(keep + rest.length)).toEqual(
      digestsOf(Buffer.concat([first.subarray(0, keep), rest])),
    );
    await handle.close();
  });

  it('fails the digest when the file holds fewer bytes than the size asked for', async () => {
    const path = join(dir, 'c.part');
    await writeFile(path, randomBytes(10));
    const digester = threads.open(path);
    digester.advance(1000);
    await expect(digester.digest(1000)).rejects.toThrow(/10 bytes on disk, 1000 expected/);
  });

  it('hashes whole files, and reports one it cannot open', async () => {
    const body = randomBytes(2 * 1024 * 1024 + 5);
    const path = join(dir, 'd.tar.gz');
    await writeFile(path, body);
    const [whole, empty] = await Promise.all([
      threads.hashFile(path),
      writeFile(join(dir, 'e'), '').then(() => threads.hashFile(join(dir, 'e'))),
    ]);
    expect(whole).toEqual(digestsOf(body));
    expect(empty).toEqual(digestsOf(Buffer.alloc(0)));
    await expect(threads.hashFile(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });

  it('starts its threads again after close()', async () => {
    const path = join(dir, 'f');
    await writeFile(path, 'abc');
    await threads.close();
    expect(await threads.hashFile(path)).toEqual(digestsOf(Buffer.from('abc')));
  });
});
