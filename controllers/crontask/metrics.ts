// CronTask runs started, postponed (Forbid: a Task still active) and missed
// (later than startingDeadlineSeconds), counted once per scheduled time: a
// run counts when its Task is created (whatever then happens to the status
// write), or when the status that first reports it postponed or missed is
// written.
import { CounterFamily } from "../runtime/metric_families.ts";
import type { CacheReader, KubeObject, MetricsCollector } from "../runtime/types.ts";
import { SCHEDULED } from "./conditions.ts";

const RESULTS: Record<string, string> = {
  TaskAlreadyActive: "skipped",
  MissedSchedule: "missed",
};

const scheduled = (status: KubeObject | undefined) =>
  (status?.conditions ?? []).find((c: KubeObject) => c.type === SCHEDULED);

export class CronTaskMetrics implements MetricsCollector {
  readonly runs = new CounterFamily(
    "kubetask_crontask_runs_total",
    "Scheduled runs by outcome: started, skipped (Forbid and a Task still active; retried " +
      "when it finishes) or missed (past startingDeadlineSeconds).",
    ["namespace", "crontask", "result"],
  );

  /**
   * After an apply for `cronTask`: `written` is the status it wrote (if any),
   * `created` whether it created a run's Task.
   */
  applied(cronTask: KubeObject, written: KubeObject | undefined, created: boolean): void {
    const labels = [cronTask.metadata?.namespace ?? "", cronTask.metadata?.name ?? ""];
    if (created) return this.runs.inc([...labels, "started"]);
    if (!written) return;
    const after = written;
    const was = scheduled(cronTask.status);
    const now = scheduled(after);
    const result = RESULTS[now?.reason ?? ""];
    // The message names the scheduled time: a new message is a new run.
    if (result && (was?.reason !== now.reason || was?.message !== now.message)) {
      this.runs.inc([...labels, result]);
    }
  }

  render(_cache: CacheReader): string[] {
    return this.runs.render();
  }
}
