import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The clients live in a python3 process: Node cannot shrink a TCP socket's buffers, and on
 * loopback (64 KiB MSS) the server's send buffer then grows to ~4 MB per stalled connection,
 * gigabytes of kernel memory for 1,000 of them on a shared machine. A small receive buffer and a
 * 1000-byte MSS keep it to ~100 KB each, and the server's writes block after that.
 */
const SCRIPT = `
import socket, sys
port, count, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
socks = []
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
    s.connect(('127.0.0.1', port))
    s.sendall(('GET %s HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' % paths[i % len(paths)]).encode())
    socks.append(s)
heads = 0
for s in socks[::2]:  # half read the headers (and what came with them), half read nothing
    s.settimeout(10)
    try:
        heads += s.recv(4096).startswith(b'HTTP/1.1 200')
    except OSError:
        pass
print('ready', len(socks), heads, flush=True)
sys.stdin.read()  # never reads again; exits (closing all) when the test closes stdin
`;

export interface StalledClients {
  /** Connections that sent their GET. */
  connected: number;
  /** Of those that read the headers, how many saw a 200. */
  sawHeaders: number;
  close(): Promise<void>;
}

/** `count` GETs of `paths` (round robin) to `origin` that stop reading; bounded wait for all to be sent. */
export function stalledClients(
  origin: string,
  paths: string[],
  count: number,
  timeoutMs = 30_000,
): Promise<StalledClients> {
  const { port } = new URL(origin);
  const child = spawn('python3', ['-c', SCRIPT, port, String(count), ...paths], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`stalled clients not all connected within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`python3 is needed for the stalled clients: ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stalled clients exited early (${code}): ${output}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (\d+) (\d+)$/m.exec(output);
      if (!ready) return;
      clearTimeout(timer);
      resolve({
        connected: Number(ready[1]),
        sawHeaders: Number(ready[2]),
        close: () => closeChild(child, exited),
      });
    });
  });
}

async function closeChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
