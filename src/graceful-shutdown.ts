import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type INestApplication, Logger } from '@nestjs/common';

/** After the grace, the rest of the shutdown (ending fills, flushing records) gets this long. */
const CLOSE_BOUND_MS = 15_000;
/** During the grace, connections whose response has ended are closed this often. */
const IDLE_SWEEP_MS = 50;
/** After close(), the connections it cut get this long to be gone. */
const CUT_SETTLE_MS = 1000;

/**
 * Stops accepting connections, closes idle keep-alive ones at once and each other one when its
 * response has ended. True once every connection is gone; false when `graceMs` passed first or
 * `interrupted` settled.
 */
export function drainConnections(
  server: Server,
  graceMs: number,
  interrupted: Promise<void>,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve(drained);
    };
    const timer = setTimeout(() => finish(false), graceMs);
    // Node closes only the connections idle when close() is called: a keep-alive connection
    // whose response ends later would wait for its keep-alive timeout. closeIdleConnections()
    // skips connections whose response is still being written.
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    void interrupted.then(() => finish(false));
    server.close(() => finish(true));
  });
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
}

/**
 * SIGTERM or SIGINT: no new connections; responses in progress get `graceMs` to finish (a
 * second signal ends the wait); then the application closes: fills still running end cleanly
 * (their temporary files removed), connections still open are cut. `beforeExit` flushes what
 * must be written (the log); the process exits 0, or 1 if closing failed or hung.
 */
export function stopGracefullyOnSignals(
  app: INestApplication,
  graceMs: number,
  beforeExit: () => Promise<void>,
): void {
  const logger = new Logger('Shutdown');
  let stopping = false;
  let interrupt = () => {};
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  const exit = async (code: number) => {
    await beforeExit().catch(() => undefined);
    process.exit(code);
  };
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: responses in progress are cut now`);
      interrupt();
      return;
    }
    stopping = true;
    const server: Server = app.getHttpServer();
    const gone = new Promise<void>((resolve) => server.once('close', () => resolve()));
    const open = await openConnections(server);
    logger.log(`${signal}: no new connections; ${open} open connection(s) get up to ${graceMs} ms to finish`);
    const drained = await drainConnections(server, graceMs, interrupted);
    if (!drained) logger.warn(`${await openConnections(server)} connection(s) still busy: cut`);
    const hung = setTimeout(() => {
      logger.error(`shutdown did not finish within ${CLOSE_BOUND_MS} ms after the grace; exiting`);
      void exit(1);
    }, CLOSE_BOUND_MS);
    try {
      await app.close();
    } catch (error) {
      clearTimeout(hung);
      logger.error('shutdown failed', error);
      return exit(1);
    }
    // A socket cut by close() leaves the server's count at once but emits 'close' (and so its
    // response's, which logs the request) in a later turn of the event loop.
    await Promise.race([gone, sleep(CUT_SETTLE_MS)]);
    await sleep(10);
    clearTimeout(hung);
    logger.log('stopped');
    await exit(0);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}
