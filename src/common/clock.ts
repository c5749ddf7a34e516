/** Time as a DI token, so tests of timing logic (circuit breakers, layout refresh) use a fake. */
export abstract class Clock {
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}
