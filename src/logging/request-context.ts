import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the request being handled, for every line logged while it is (and by work it
 * started, such as a fill). A leaf module: any layer may run code inside it.
 */
export const requestContext = new AsyncLocalStorage<string>();

/** The id of the request whose handling is running now, if any. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore();
}
