// The benchmark's arithmetic on what it observed: percentiles of latencies and
// the load average of the machine it shares.

/**
 * The p-th percentile (0 < p ≤ 100) by the nearest-rank method: the smallest
 * value with at least p% of the values at or below it. NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/**
 * Milliseconds from each key's start to its end, for keys that have both
 * (a Task's create acknowledged → its Job first seen).
 */
export function latencies(
  starts: ReadonlyMap<string, number>,
  ends: ReadonlyMap<string, number>,
): number[] {
  const out: number[] = [];
  for (const [key, start] of starts) {
    const end = ends.get(key);
    if (end !== undefined) out.push(end - start);
  }
  return out;
}

/** The 1-minute load average, from /proc/loadavg. */
export async function loadAverage(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (100 ticks/s). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command (which may hold spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds each named process used between two readings of cpuSecondsOf. */
export function cpuDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after).map((k) => [k, Math.round((after[k] - (before[k] ?? 0)) * 10) / 10]),
  );
}
