import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { PortcacheConfig } from '../config/portcache-config.js';

const EWMA_ALPHA = 0.3;
const FAILURES_TO_OPEN = 3;
const BASE_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 15 * 60_000;
const NOT_FOUND_TTL_MS = 10 * 60_000;
const NOT_FOUND_MAX_ENTRIES = 50_000;
/** A source whose bytes failed the Manifest check is not asked for that file again for this long. */
const BAD_BYTES_TTL_MS = 6 * 60 * 60_000;
/** SRC_URI hosts remembered; idle ones beyond this are forgotten, oldest first. */
const MAX_HOSTS = 2000;
/** Scores compare mirrors by the time to fetch a file of this size. */
const REFERENCE_BYTES = 16 * 1024 * 1024;

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What the balancer knows about one mirror, built from real traffic only. */
export class MirrorState {
  ttfbMs: number | undefined;
  bytesPerSecond: number | undefined;
  consecutiveFailures = 0;
  /** How many times the circuit opened in a row: the backoff doubles each time. */
  opens = 0;
  openUntil = 0;
  probing = false;
  active = 0;
  requests = 0;
  failures = 0;
  bytes = 0;
  /** Files it sent with bytes or a size the Manifest (or the verified file) contradicts. */
  badFiles = 0;
  /** The last of those, for the admin: name and when. */
  lastBadFile: { name: string; at: number } | undefined;
  /** Why its last failed request failed, for the admin. */
  lastError: { reason: string; at: number } | undefined;

  constructor(
    readonly url: string,
    readonly order: number,
  ) {}

  get host(): string {
    return new URL(this.url).host;
  }
}

/** A mirror handed to one request; report how it went, then release it. */
export interface MirrorLease {
  readonly mirror: string;
  release(): void;
}

/**
 * Per-mirror live state: EWMA of time-to-first-byte and throughput, a consecutive-failure
 * circuit breaker (open with exponential backoff, then one half-open probe), a concurrency
 * limit, and a short negative cache of 404s per file. Picks the best healthy mirror, exploring
 * another now and then so that scores stay fresh.
 */
@Injectable()
export class MirrorBalancer {
  private readonly logger = new Logger(MirrorBalancer.name);
  private readonly mirrors: MirrorState[];
  /** SRC_URI hosts by origin, created on first use. */
  private readonly hosts = new Map<string, MirrorState>();
  private readonly notFound = new Map<string, number>();
  private readonly waiters: Array<() => void> = [];
  /** Chance of trying a healthy mirror other than the best one. */
  explorationRate = 0.05;
  random: () => number = Math.random;

  constructor(
    private readonly config: PortcacheConfig,
    private readonly clock: Clock,
  ) {
    this.mirrors = config.mirrors.map((url, index) => new MirrorState(url, index));
  }

  /**
   * The best usable mirror for `name`, leased; undefined when none is usable now. Mirrors in
   * `exclude` (already failed for this fill), known not to have the file, with an open circuit
   * or at their concurrency limit are skipped.
   */
  acquire(name: string, exclude: ReadonlySet<string> = new Set()): MirrorLease | undefined {
    const usable = this.ranked().filter(
      (m) => !exclude.has(m.url) && !this.knownMissing(m.url, name) && this.admits(m),
    );
    if (usable.length === 0) return undefined;
    let chosen = usable[0];
    if (usable.length > 1 && this.random() < this.explorationRate) {
      chosen = usable[1 + Math.floor(this.random() * (usable.length - 1))];
    }
    return this.lease(chosen);
  }

  /**
   * The upstream host of a SRC_URI, leased like a mirror (same circuit breaker, concurrency
   * limit and negative cache, keyed by origin); undefined when it should not be asked now.
   */
  acquireHost(url: string, name: string): MirrorLease | undefined {
    const origin = new URL(url).origin;
    let state = this.hosts.get(origin);
    if (!state) {
      if (this.hosts.size >= MAX_HOSTS) this.forgetIdleHosts();
      state = new MirrorState(origin, Number.POSITIVE_INFINITY);
    }
    // Re-inserted: the map's order is least recently used first.
    this.hosts.delete(origin);
    this.hosts.set(origin, state);
    if (this.knownMissing(origin, name) || !this.admits(state)) return undefined;
    return this.lease(state);
  }

  /** Why acquireHost() would refuse `url` for `name` now, for messages; undefined if it would not. */
  hostRefusal(url: string, name: string): string | undefined {
    const origin = new URL(url).origin;
    const state = this.hosts.get(origin);
    if (this.knownMissing(origin, name)) return 'recently had no usable copy';
    if (!state) return undefined;
    if (this.circuit(state) === 'open') return 'circuit open';
    if (state.active >= this.config.mirrorConcurrency) return 'at its concurrency limit';
    return undefined;
  }

  /** Resolves when some lease is released, or after `timeoutMs`. */
  released(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Whether a mirror that could serve `name` is only busy (at its concurrency limit), not broken. */
  busy(name: string, exclude: ReadonlySet<string>): boolean {
    return this.mirrors.some(
      (m) =>
        !exclude.has(m.url) &&
        !this.knownMissing(m.url, name) &&
        m.active >= this.config.mirrorConcurrency &&
        this.circuit(m) !== 'open',
    );
  }

  /** Whether some mirror other than `mirror` could take over now (used before abandoning a slow one). */
  hasAlternative(mirror: string, name: string, exclude: ReadonlySet<string>): boolean {
    return this.mirrors.some(
      (m) => m.url !== mirror && !exclude.has(m.url) && !this.knownMissing(m.url, name) && this.admits(m),
    );
  }

  recordResponse(mirror: string, ttfbMs: number): void {
    const state = this.state(mirror);
    state.ttfbMs = ewma(state.ttfbMs, ttfbMs);
    this.recordSuccess(state);
  }

  recordTransfer(mirror: string, bytes: number, seconds: number): void {
    const state = this.state(mirror);
    state.bytes += bytes;
    if (bytes >= 256 * 1024 && seconds > 0)
      state.bytesPerSecond = ewma(state.bytesPerSecond, bytes / seconds);
  }

  /** A 404 is not a failure of the mirror, but it need not be asked for this file again soon. */
  recordNotFound(mirror: string, name: string): void {
    this.recordSuccess(this.state(mirror));
    this.skipFor(mirror, name, NOT_FOUND_TTL_MS);
  }

  /** The source sent bytes that failed the Manifest check (or a size it contradicts): skip it for this file. */
  recordBadFile(mirror: string, name: string): void {
    const state = this.state(mirror);
    state.badFiles += 1;
    state.lastBadFile = { name, at: this.clock.now() };
    this.skipFor(mirror, name, BAD_BYTES_TTL_MS);
  }

  recordFailure(mirror: string, reason: string): void {
    const state = this.state(mirror);
    state.failures += 1;
    state.consecutiveFailures += 1;
    state.lastError = { reason, at: this.clock.now() };
    const wasProbe = state.probing;
    state.probing = false;
    if (wasProbe || state.consecutiveFailures >= FAILURES_TO_OPEN) {
      state.opens += 1;
      const backoff = Math.min(BASE_BACKOFF_MS * 2 ** (state.opens - 1), MAX_BACKOFF_MS);
      state.openUntil = this.clock.now() + backoff;
      this.logger.warn(`${state.host}: circuit open for ${Math.round(backoff / 1000)} s after: ${reason}`);
    }
  }

  circuit(state: MirrorState): CircuitState {
    if (state.openUntil === 0) return 'closed';
    return this.clock.now() < state.openUntil ? 'open' : 'half-open';
  }

  /** Every mirror's state and scores, best first (GET /api/v1/mirrors). */
  snapshot() {
    return this.ranked().map((m) => this.describe(m));
  }

  /** SRC_URI hosts asked so far, most recently used first (GET /api/v1/hosts). */
  hostsSnapshot() {
    return [...this.hosts.values()].reverse().map((m) => this.describe(m));
  }

  private describe(m: MirrorState) {
    return {
      url: m.url,
      circuit: this.circuit(m),
      consecutiveFailures: m.consecutiveFailures,
      openUntil: m.openUntil > this.clock.now() ? new Date(m.openUntil).toISOString() : null,
      active: m.active,
      limit: this.config.mirrorConcurrency,
      ttfbMs: m.ttfbMs === undefined ? null : Math.round(m.ttfbMs * 10) / 10,
      bytesPerSecond: m.bytesPerSecond === undefined ? null : Math.round(m.bytesPerSecond),
      score: this.score(m) ?? null,
      requests: m.requests,
      failures: m.failures,
      bytes: m.bytes,
      badFiles: m.badFiles,
      lastBadFile: m.lastBadFile
        ? { name: m.lastBadFile.name, at: new Date(m.lastBadFile.at).toISOString() }
        : null,
      lastError: m.lastError
        ? { reason: m.lastError.reason, at: new Date(m.lastError.at).toISOString() }
        : null,
    };
  }

  private recordSuccess(state: MirrorState): void {
    if (state.openUntil !== 0) this.logger.log(`${state.host}: circuit closed again`);
    state.consecutiveFailures = 0;
    state.opens = 0;
    state.openUntil = 0;
    state.probing = false;
  }

  private admits(state: MirrorState): boolean {
    if (state.active >= this.config.mirrorConcurrency) return false;
    const circuit = this.circuit(state);
    return circuit === 'closed' || (circuit === 'half-open' && !state.probing);
  }

  private lease(state: MirrorState): MirrorLease {
    if (this.circuit(state) === 'half-open') state.probing = true;
    state.active += 1;
    state.requests += 1;
    let released = false;
    return {
      mirror: state.url,
      release: () => {
        if (released) return;
        released = true;
        state.active -= 1;
        // A probe that ended without a verdict must not block the next one.
        state.probing = false;
        for (const wake of this.waiters.splice(0)) wake();
      },
    };
  }

  /** Expected milliseconds to fetch REFERENCE_BYTES; undefined until the mirror has served something. */
  private score(state: MirrorState): number | undefined {
    if (state.ttfbMs === undefined) return undefined;
    const transfer = state.bytesPerSecond ? (REFERENCE_BYTES / state.bytesPerSecond) * 1000 : 0;
    return Math.round(state.ttfbMs + transfer);
  }

  /** Measured mirrors by score, then unmeasured ones in configuration order. */
  private ranked(): MirrorState[] {
    return [...this.mirrors].sort((a, b) => {
      const sa = this.score(a);
      const sb = this.score(b);
      if (sa !== undefined && sb !== undefined) return sa - sb || a.order - b.order;
      if (sa !== undefined) return -1;
      if (sb !== undefined) return 1;
      return a.order - b.order;
    });
  }

  private skipFor(mirror: string, name: string, ttlMs: number): void {
    if (this.notFound.size >= NOT_FOUND_MAX_ENTRIES) this.pruneNotFound();
    this.notFound.set(`${mirror}\n${name}`, this.clock.now() + ttlMs);
  }

  private knownMissing(mirror: string, name: string): boolean {
    const key = `${mirror}\n${name}`;
    const until = this.notFound.get(key);
    if (until === undefined) return false;
    if (until > this.clock.now()) return true;
    this.notFound.delete(key);
    return false;
  }

  private pruneNotFound(): void {
    const now = this.clock.now();
    for (const [key, until] of this.notFound) if (until <= now) this.notFound.delete(key);
    // Still full: drop the oldest half (Map keeps insertion order).
    let excess = this.notFound.size - NOT_FOUND_MAX_ENTRIES / 2;
    for (const key of this.notFound.keys()) {
      if (excess-- <= 0) break;
      this.notFound.delete(key);
    }
  }

  private forgetIdleHosts(): void {
    let excess = this.hosts.size - MAX_HOSTS / 2;
    for (const [origin, state] of this.hosts) {
      if (excess <= 0) break;
      if (state.active > 0) continue;
      this.hosts.delete(origin);
      excess -= 1;
    }
  }

  private state(mirror: string): MirrorState {
    const state = this.mirrors.find((m) => m.url === mirror) ?? this.hosts.get(mirror);
    if (!state) throw new Error(`unknown mirror ${mirror}`);
    return state;
  }
}

function ewma(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous + EWMA_ALPHA * (sample - previous);
}
