import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpstreamServer } from './upstream-server.js';

/** The upstream servers and temporary directories one test starts; close() after each test. */
export class TestBed {
  private readonly servers: UpstreamServer[] = [];
  private readonly dirs: string[] = [];

  constructor(private readonly prefix: string) {}

  async upstream(layout: 'hashed' | 'flat' = 'hashed'): Promise<UpstreamServer> {
    const server = await UpstreamServer.start(layout);
    this.servers.push(server);
    return server;
  }

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), this.prefix));
    this.dirs.push(dir);
    return dir;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((server) => server.close()));
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
