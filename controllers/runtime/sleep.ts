// A sleep that ends early when its signal aborts, so a loop waiting between
// attempts (a re-list, a lease renewal) stops at once instead of at its next
// wake-up.

/** Resolves after `ms`, or as soon as `signal` aborts (at once if it already has). */
export function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
