// Cron schedule maths for CronTask: pure functions of (schedule, time zone,
// times). No clock is read here; the reconciler passes `now` in.
import { Cron } from "croner";

/** A parsed schedule, or the reason it cannot be used. */
export type ParsedSchedule =
  | { ok: true; cron: Cron; timeZone: string }
  | { ok: false; error: string };

/** What is due at `now`, given the last time a run was considered. */
export interface DueRuns {
  /** The latest schedule time in (earliest, now] that may still start; undefined if none. */
  mostRecentDue?: Date;
  /** Schedule times in (earliest, now], counted up to MISSED_COUNT_CAP. */
  missedCount: number;
  /** A run that was due but missed its starting deadline (only set when nothing else is due). */
  tooLate?: Date;
  /** The first schedule time strictly after now. */
  next: Date;
}

/**
 * Counting stops here: a CronTask that was down for years on a per-minute
 * schedule must not make the reconciler walk millions of times. Only the most
 * recent missed time ever runs, so the exact count beyond this does not matter.
 */
export const MISSED_COUNT_CAP = 100;

/**
 * Parses a standard 5-field expression or a macro (@hourly, @daily, @weekly,
 * @monthly, @yearly, @annually, @midnight) in an IANA time zone (default UTC).
 * Never throws: a bad schedule is a user error reported on the CronTask.
 */
export function parseSchedule(schedule: string, timeZone?: string): ParsedSchedule {
  const zone = timeZone === undefined || timeZone === "" ? "UTC" : timeZone;
  try {
    // croner does not check the zone itself; Intl throws a RangeError for unknown ones.
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    return { ok: false, error: `unknown time zone "${zone}"` };
  }
  const text = schedule.trim();
  if (text.startsWith("@every")) {
    return { ok: false, error: `"@every" intervals are not supported; use a cron expression` };
  }
  try {
    // "5-part" rejects seconds and years fields, which standard cron does not have.
    const cron = new Cron(text, { mode: "5-part", timezone: zone });
    return { ok: true, cron, timeZone: zone };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      error: `invalid schedule "${schedule}": ${message.replace(/^CronPattern: /, "")}`,
    };
  }
}

/**
 * Works out which run (if any) is due now. `earliest` is the last time a run
 * was scheduled, or the creation time: runs at or before it are done.
 *
 * Like the Kubernetes CronJob controller, missed runs never burst: however many
 * were missed (controller down, CronTask suspended), only the most recent one
 * is due. With startingDeadlineSeconds, a run older than now - deadline is too
 * late and is skipped instead.
 *
 * An unparsable schedule, unknown zone, or one that never fires again (e.g.
 * "0 0 30 2 *") comes back as { ok: false, error } rather than a throw.
 */
export function dueRuns(
  schedule: string,
  timeZone: string | undefined,
  earliest: Date,
  now: Date,
  startingDeadlineSeconds?: number,
): ({ ok: true } & DueRuns) | { ok: false; error: string } {
  const parsed = parseSchedule(schedule, timeZone);
  if (!parsed.ok) return parsed;
  const next = parsed.cron.nextRun(now);
  if (!next) return { ok: false, error: `schedule "${schedule}" never fires` };

  // previousRuns is exclusive of its reference; a run exactly at `now` is due.
  const [latest] = parsed.cron.previousRuns(1, new Date(now.getTime() + 1));
  if (!latest || latest.getTime() <= earliest.getTime()) return { ok: true, missedCount: 0, next };

  const missedCount = countRuns(parsed.cron, earliest, now, MISSED_COUNT_CAP);
  if (startingDeadlineSeconds !== undefined) {
    const deadline = now.getTime() - startingDeadlineSeconds * 1000;
    if (latest.getTime() < deadline) return { ok: true, missedCount, tooLate: latest, next };
  }
  return { ok: true, mostRecentDue: latest, missedCount, next };
}

/** Counts schedule times in (after, until], stopping at `cap`. */
function countRuns(cron: Cron, after: Date, until: Date, cap: number): number {
  let count = 0;
  for (
    let t = cron.nextRun(after);
    t && t.getTime() <= until.getTime() && count < cap;
    t = cron.nextRun(t)
  ) {
    count++;
  }
  return count;
}
