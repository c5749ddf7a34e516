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

/**
 * The rest of a body sent from the event loop by the addon, without JavaScript (see
 * sendfile.c): `done(status, sent)` comes once, status 0 (all sent), 1 (the file ended early)
 * or -errno; never after cancel(), after which the file's descriptor is no longer used.
 */
export interface SendRest {
  start(
    socketFd: number,
    fileFd: number,
    position: number,
    end: number,
    turnBytes: number,
    done: (status: number, sent: number) => void,
  ): SendRestHandle;
  sentSoFar(handle: SendRestHandle): number;
  cancel(handle: SendRestHandle): void;
}

export type SendRestHandle = { readonly __sendRest: unique symbol };

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
export function loadSendfile(): Loaded {
  loaded ??= load();
  return loaded;
}

type Loaded = { sendfile?: Sendfile; sendRest?: SendRest; missing?: string };
let loaded: Loaded | undefined;

function load(): Loaded {
  if (!existsSync(ADDON))
    return { missing: `${ADDON} was not built (no C compiler or Node headers at build time)` };
  try {
    const addon = createRequire(import.meta.url)(ADDON) as Record<string, unknown>;
    if (typeof addon.sendfile !== 'function') return { missing: `${ADDON} has no sendfile()` };
    const sendfile = addon.sendfile as Sendfile;
    if (typeof addon.sendRest !== 'function') return { sendfile };
    const sendRest: SendRest = {
      start: addon.sendRest as SendRest['start'],
      sentSoFar: addon.sentSoFar as SendRest['sentSoFar'],
      cancel: addon.cancel as SendRest['cancel'],
    };
    return { sendfile, sendRest };
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
