import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * sendfile(2) on a socket's descriptor: bytes sent (0: the file ends at `position`), or -errno
 * (-EAGAIN: the socket's buffer is full).
 */
export type Sendfile = (socketFd: number, fileFd: number, position: number, count: number) => number;

/** The socket's buffer is full. */
export const EAGAIN = -constants.errno.EAGAIN;
/** sendfile(2) cannot serve these descriptors (a file system or socket without it): copy instead. */
export const UNSUPPORTED: ReadonlySet<number> = new Set(
  [constants.errno.EINVAL, constants.errno.ENOSYS, constants.errno.EOPNOTSUPP].map((errno) => -errno),
);

/** dist/native/sendfile.node, from src/<dir>/ (vitest) and dist/<dir>/ (npm start) alike. */
const ADDON = fileURLToPath(new URL('../../dist/native/sendfile.node', import.meta.url));

/**
 * The native sendfile (scripts/build-native.mjs), or why there is none: the caller then copies
 * through a buffer. Loaded once.
 */
export function loadSendfile(): { sendfile?: Sendfile; missing?: string } {
  loaded ??= load();
  return loaded;
}

let loaded: { sendfile?: Sendfile; missing?: string } | undefined;

function load(): { sendfile?: Sendfile; missing?: string } {
  if (!existsSync(ADDON))
    return { missing: `${ADDON} was not built (no C compiler or Node headers at build time)` };
  try {
    const addon = createRequire(import.meta.url)(ADDON) as { sendfile?: unknown };
    if (typeof addon.sendfile !== 'function') return { missing: `${ADDON} has no sendfile()` };
    return { sendfile: addon.sendfile as Sendfile };
  } catch (error) {
    return { missing: `${ADDON} does not load: ${(error as Error).message}` };
  }
}

/**
 * The socket's descriptor when writes to it can go around Node (a plain TCP socket of this
 * process, open, nothing of ours queued in Node or libuv), else -1.
 */
export function directFd(socket: Socket | null): number {
  if (!socket || socket.destroyed || socket.writableLength > 0) return -1;
  const handle = (socket as { _handle?: { fd?: number; writeQueueSize?: number } })._handle;
  if (handle?.writeQueueSize !== 0) return -1;
  return typeof handle.fd === 'number' ? handle.fd : -1;
}

/** Bytes sent to each socket around Node, which socket.bytesWritten does not count. */
const sentDirectly = new WeakMap<Socket, number>();

export function countSentDirectly(socket: Socket, bytes: number): void {
  sentDirectly.set(socket, (sentDirectly.get(socket) ?? 0) + bytes);
}

/** socket.bytesWritten, plus what went around Node (sendfile). */
export function bytesWrittenTo(socket: Socket): number {
  return socket.bytesWritten + (sentDirectly.get(socket) ?? 0);
}
