// One work queue of string keys, with the guarantees controllers rely on:
// - a key is queued at most once, however often it is added (dedup);
// - a key is never handed to two workers at once; if it is added while being
//   processed it is queued again once, when done() is called;
// - addAfter() holds keys in a heap ordered by ready time, earliest first;
// - addRateLimited() delays by the rate limiter's verdict (backoff + bucket).
//
// After shutDown(), get() hands out nothing more (queued keys are dropped:
// they are level-triggered and will be listed again on the next start), and
// drain() resolves once every key in flight has been marked done().
import {
  type Clock,
  DefaultControllerRateLimiter,
  type RateLimiter,
  systemClock,
} from "./ratelimit.ts";
import type { Request } from "./types.ts";

/** The queue key of a request: `kind/namespace/name` (none of these may contain "/"). */
export function requestKey(req: Request): string {
  return `${req.kind}/${req.namespace}/${req.name}`;
}

export function parseRequestKey(key: string): Request {
  const [kind, namespace, ...rest] = key.split("/");
  return { kind, namespace, name: rest.join("/") };
}

/** Timer functions, injectable so tests can move time by hand. */
export interface Timers extends Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemTimers: Timers = {
  now: systemClock.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

export interface QueueMetrics {
  added(): void;
  retried(): void;
}

interface Waiting {
  key: string;
  readyAt: number;
}

// setTimeout overflows past 2^31-1 ms (~24.8 days) and fires at once; a longer
// wait is armed in steps (releaseReady re-arms for what is not yet due).
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue {
  private queue: string[] = [];
  private dirty = new Set<string>();
  private processing = new Set<string>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private drainWaiters: (() => void)[] = [];

  // Delaying part: a binary min-heap on readyAt plus the key's current entry.
  private heap: Waiting[] = [];
  private waiting = new Map<string, Waiting>();
  private timer: unknown;
  private timerAt = Infinity;

  readonly limiter: RateLimiter;
  private readonly timers: Timers;
  private readonly metrics?: QueueMetrics;

  constructor(opts: { limiter?: RateLimiter; timers?: Timers; metrics?: QueueMetrics } = {}) {
    this.timers = opts.timers ?? systemTimers;
    this.limiter = opts.limiter ?? new DefaultControllerRateLimiter({ clock: this.timers });
    this.metrics = opts.metrics;
  }

  /** Number of keys waiting to be handed out (not counting delayed or in-flight ones). */
  len(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.added();
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    this.dispatch(key);
  }

  /** Hands a dirty key to a blocked worker, or queues it. */
  private dispatch(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Waits for the next key; undefined once the queue is shut down. Call done(key) after. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) {
      // It changed while in flight: process it once more.
      this.dispatch(key);
    }
    if (this.processing.size === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /** Adds `key` after `ms`; an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const readyAt = this.timers.now() + ms;
    const existing = this.waiting.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) this.removeFromHeap(existing);
    const entry = { key, readyAt };
    this.waiting.set(key, entry);
    this.pushHeap(entry);
    this.armTimer();
  }

  /** Adds `key` after the rate limiter's delay (a failed attempt). */
  addRateLimited(key: string): void {
    this.metrics?.retried();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Clears the retry history of `key` (it succeeded). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.retries(key);
  }

  /** Stops handing out keys; workers blocked in get() receive undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.heap = [];
    this.waiting.clear();
    this.queue = [];
    for (const resolve of this.waiters.splice(0)) resolve(undefined);
  }

  /** Shuts down and resolves when no key is in flight any more. */
  drain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private releaseReady(): void {
    const now = this.timers.now();
    while (this.heap.length > 0 && this.heap[0].readyAt <= now) {
      const entry = this.popHeap();
      this.waiting.delete(entry.key);
      this.add(entry.key);
    }
    this.armTimer();
  }

  private armTimer(): void {
    const next = this.heap[0]?.readyAt ?? Infinity;
    if (next === this.timerAt) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.releaseReady();
    }, Math.min(MAX_TIMER_MS, Math.max(0, next - this.timers.now())));
  }

  // --- binary heap on readyAt ---

  private pushHeap(entry: Waiting): void {
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
  }

  private popHeap(): Waiting {
    const top = this.heap[0];
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private removeFromHeap(entry: Waiting): void {
    const i = this.heap.indexOf(entry);
    if (i < 0) return;
    const last = this.heap.pop()!;
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.siftDown(i);
      this.siftUp(i);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].readyAt <= h[i].readyAt) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && h[l].readyAt < h[min].readyAt) min = l;
      if (r < h.length && h[r].readyAt < h[min].readyAt) min = r;
      if (min === i) return;
      [h[min], h[i]] = [h[i], h[min]];
      i = min;
    }
  }
}
