import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface SpawnedServer {
  child: ChildProcess;
  url: string;
  output(): string;
}

/** Runs the built server (dist/main.js, built by `pretest`) as a child process. */
export function spawnServer(env: Record<string, string>, cwd?: string): Promise<SpawnedServer> {
  const child = spawn(process.execPath, [MAIN_JS], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      NO_COLOR: '1',
      PORTCACHE_HOST: '127.0.0.1',
      PORTCACHE_PORT: '0',
      PORTCACHE_TRUSTED_NETS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 15_000);
    const onData = () => {
      const match = /on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({ child, url: match[1], output: () => output });
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`server exited with ${code}:\n${output}`), { code, output }));
    });
  });
}
