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
