import { promises as fs } from 'node:fs';

/** fsync(2) of a directory, so that a rename or a new entry in it survives a crash. */
export async function fsyncDir(path: string): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
