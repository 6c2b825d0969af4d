// Defaults of the operator's throughput knobs, in one place (flags, the
// manager and the README name them). Why these values: README "Client defaults".

/**
 * Reconciles are I/O bound (each waits on the apiserver), so more of them than
 * cores keeps the apiserver busy during a burst; API Priority and Fairness
 * protects it from us.
 */
export const DEFAULT_WORKERS = 16;
/** Retries after errors and conflicts: a bucket that only a storm of failures drains. */
export const DEFAULT_QUEUE_QPS = 50;
export const DEFAULT_QUEUE_BURST = 500;

/**
 * A failed list or watch is retried after 200 ms, doubling up to this. Not 30 s: over a 20 s
 * apiserver restart the doubling reached 25.6 s and the operator sat idle for most of that after
 * the apiserver was back (chaos apiserver-down-20s: recovery 36.7 s). A handful of list/watch
 * loops retrying every few seconds costs an apiserver nothing, and APF sheds what it must.
 */
export const WATCH_RETRY_MIN_MS = 200;
export const WATCH_RETRY_MAX_MS = 5_000;
