/**
 * A buffer to read files into. glibc puts a large allocation 16 bytes past a page boundary,
 * and copying page-cache pages to such an address runs about 5 times slower on AMD Zen
 * (measured: 0.55 s instead of 0.11 s of CPU per GiB read); 64 bytes further on it does not.
 */
export function allocateReadBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size + 64).subarray(64);
}

/** Fill bytes are copied into slabs of this size, and plain upstream connections read into one. */
export const SLAB_BYTES = 256 * 1024;
/** Free slabs kept once no slab was taken for IDLE_MS. */
const KEPT_WHEN_IDLE = 8;
const IDLE_MS = 60_000;

const free: Buffer[] = [];
let lastTaken = 0;
let trimArmed = false;

/**
 * A slab from the shared pool: give it back with giveSlab() once nothing refers to its bytes.
 * Slabs are never dropped while fills run: a dropped slab lived long enough to die in V8's old
 * generation, and its memory (like a socket's read buffers) came back only with a full GC; the
 * churn of them drove the fleet's peak memory (docs/performance-notes.md).
 */
export function takeSlab(): Buffer {
  lastTaken = performance.now();
  if (!trimArmed) {
    trimArmed = true;
    setTimeout(trimIfIdle, IDLE_MS).unref();
  }
  return free.pop() ?? allocateReadBuffer(SLAB_BYTES);
}

export function giveSlab(slab: Buffer): void {
  free.push(slab);
}

/** Free slabs in the pool now. */
export function freeSlabs(): number {
  return free.length;
}

function trimIfIdle(): void {
  const idleFor = performance.now() - lastTaken;
  if (idleFor < IDLE_MS) {
    setTimeout(trimIfIdle, IDLE_MS - idleFor).unref();
    return;
  }
  trimArmed = false;
  free.length = Math.min(free.length, KEPT_WHEN_IDLE);
}
