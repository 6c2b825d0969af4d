// Rate limiting for retries (per item) and for overall throughput (bucket).
// The clock is injectable so unit tests can step time instead of sleeping.

export interface Clock {
  /** Milliseconds, monotonic enough for rate limiting. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Decides how long an item must wait before its next attempt. */
export interface RateLimiter {
  /** Delay in ms before `key` may be processed again; counts as one retry. */
  when(key: string): number;
  /** Resets the retry history of `key` (after a success). */
  forget(key: string): void;
  retries(key: string): number;
}

/** Per-item exponential backoff: base, 2·base, 4·base … capped at max. */
export class ItemExponentialBackoff implements RateLimiter {
  private failures = new Map<string, number>();

  constructor(private readonly baseMs = 5, private readonly maxMs = 1_000_000) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2**n overflows to Infinity for large n; Math.min then caps it.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * A token bucket: `qps` tokens per second, at most `burst` saved up. reserve()
 * always takes a token, possibly borrowing from the future, and returns how
 * long the caller must wait for it — so concurrent callers queue fairly.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly clock: Clock = systemClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Resolves when a token is available (for throttling API requests). */
  async wait(): Promise<void> {
    const delay = this.reserve();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  }
}

/** The default controller limiter: the slower of per-item backoff and the overall bucket. */
export class DefaultControllerRateLimiter implements RateLimiter {
  readonly backoff: ItemExponentialBackoff;
  readonly bucket: TokenBucket;

  constructor(
    opts: { baseMs?: number; maxMs?: number; qps?: number; burst?: number; clock?: Clock } = {},
  ) {
    this.backoff = new ItemExponentialBackoff(opts.baseMs ?? 5, opts.maxMs ?? 1_000_000);
    this.bucket = new TokenBucket(opts.qps ?? 10, opts.burst ?? 100, opts.clock ?? systemClock);
  }

  when(key: string): number {
    return Math.max(this.backoff.when(key), this.bucket.reserve());
  }

  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }
}
