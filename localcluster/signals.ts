// SIGINT, SIGTERM and SIGHUP end `demo`, `test` and `cluster up` alike: the
// same teardown as `cluster down` runs once, then the process exits 128+N
// (the shell's code for "ended by signal N"). A second signal while the
// teardown runs is ignored: cutting it short is what left bridges, mounts
// and a kube-network-policies writing its log at 70 MB/s behind.
export const TERMINATION_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type TerminationSignal = typeof TERMINATION_SIGNALS[number];

const SIGNAL_NUMBER: Record<TerminationSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Runs `teardown` on the first of SIGINT, SIGTERM or SIGHUP, then exits.
 * Returns a function that removes the listeners (for a caller that tears
 * down by itself once it is done).
 */
export function tearDownOnSignals(what: string, teardown: () => Promise<void>): () => void {
  let started = false;
  const listeners = TERMINATION_SIGNALS.map((sig) => {
    const listener = async () => {
      if (started) return;
      started = true;
      say(`[${what}] ${sig}: tearing down`);
      try {
        await teardown();
      } catch (err) {
        say(`[${what}] teardown failed: ${err instanceof Error ? err.message : err}`);
      }
      Deno.exit(128 + SIGNAL_NUMBER[sig]);
    };
    Deno.addSignalListener(sig, listener);
    return [sig, listener] as const;
  });
  return () => {
    for (const [sig, listener] of listeners) Deno.removeSignalListener(sig, listener);
  };
}

/** After SIGHUP the terminal may be gone: a failed write must not stop the teardown. */
function say(line: string): void {
  try {
    console.error(line);
  } catch { /* no terminal */ }
}
