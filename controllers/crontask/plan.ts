// The pure core of the CronTask controller: from what was observed (the
// CronTask, the Tasks it owns) and the time, the plan for the apply layer:
// the finished Tasks to prune, the active ones to replace, the run's Task to
// create, the status, its Events and when to look again.
import type { CronTaskStatus } from "../../api/v1alpha1/index.ts";
import {
  type Deletion,
  emptyPlan,
  type Plan,
  type PlannedEvent,
  type Refusal,
} from "../runtime/apply.ts";
import { TaskResource } from "../kinds.ts";
import { type ConditionUpdate, findCondition, SCHEDULED, setCondition } from "./conditions.ts";
import type { CronTaskObservation } from "./observe.ts";
import { dueRuns, MISSED_COUNT_CAP } from "./schedule.ts";
import {
  buildTask,
  byScheduledTime,
  isActive,
  isFinished,
  lastSuccessfulTime,
  referenceTo,
  rfc3339,
  taskNameFor,
  type TaskObject,
  tasksToPrune,
} from "./tasks.ts";

/**
 * Longest requeue: a yearly schedule would otherwise ask for a timer beyond
 * what setTimeout can hold (2^31 ms). Waking early just recomputes and waits again.
 */
export const MAX_REQUEUE_MS = 24 * 3_600_000;

/** Reasons that say the CronTask cannot schedule at all; cleared once it can. */
const BLOCKED_REASONS = new Set(["Suspended", "InvalidSchedule", "InvalidSpec"]);

/**
 * The plan for one CronTask; `refusal` is set when the apply layer could not
 * create the run's Task (its name is held by a Task this CronTask does not
 * control, or the apiserver refused it): the run is skipped, and said why.
 */
export function planCronTask(
  obs: CronTaskObservation,
  now: Date,
  refusal?: Refusal,
): Plan<CronTaskStatus> {
  const { cronTask, owned } = obs;
  if (obs.invalidSpec) return invalidSpecPlan(obs, `invalid spec: ${obs.invalidSpec}`, now);
  const spec = cronTask.spec;
  const previous = cronTask.status ?? {};
  const generation = cronTask.metadata.generation;
  const namespace = cronTask.metadata.namespace ?? "";
  const nowText = rfc3339(now);
  const active = owned.filter(isActive).sort(byScheduledTime);
  const events: PlannedEvent[] = sawCompleted(previous, owned);
  const deletion = (task: TaskObject, what: string): Deletion => ({
    type: TaskResource,
    namespace,
    name: task.metadata.name ?? "",
    uid: task.metadata.uid,
    event: { type: "Normal", reason: "SuccessfulDelete", message: `Deleted ${what}` },
  });
  const prune = tasksToPrune(owned, spec.successfulTasksHistoryLimit, spec.failedTasksHistoryLimit)
    .map((t) => deletion(t, `finished Task ${t.metadata.name}`));

  const base: CronTaskStatus = {
    ...previous,
    active: active.map(referenceTo),
    lastSuccessfulTime: lastSuccessfulTime(owned, previous.lastSuccessfulTime),
    observedGeneration: generation,
  };
  const withCondition = (status: CronTaskStatus, update: ConditionUpdate): CronTaskStatus => ({
    ...status,
    conditions: setCondition(
      status.conditions,
      { ...update, observedGeneration: generation },
      nowText,
    ),
  });
  const scheduled = (
    status: "True" | "False",
    reason: string,
    message: string,
  ): ConditionUpdate => ({
    type: SCHEDULED,
    status,
    reason,
    message,
  });
  const plan = (status: CronTaskStatus, extra: Partial<Plan<CronTaskStatus>> = {}) =>
    emptyPlan<CronTaskStatus>({
      delete: prune,
      status: withoutEmptyActive(status),
      events,
      ...extra,
    });

  if (spec.suspend) {
    const message = "Scheduling is suspended; running Tasks are left alone";
    return plan(withCondition(base, scheduled("False", "Suspended", message)));
  }

  const earliest = previous.lastScheduleTime ?? cronTask.metadata.creationTimestamp;
  const runs = dueRuns(
    spec.schedule,
    spec.timeZone,
    earliest ? new Date(earliest) : now,
    now,
    spec.startingDeadlineSeconds,
  );
  if (!runs.ok) {
    events.push({ type: "Warning", reason: "InvalidSchedule", message: runs.error });
    return plan(withCondition(base, scheduled("False", "InvalidSchedule", runs.error)));
  }
  const requeueAfterMs = Math.min(MAX_REQUEUE_MS, Math.max(1, runs.next.getTime() - now.getTime()));

  if (runs.tooLate) {
    const message = `Missed the run scheduled at ${rfc3339(runs.tooLate)} by more than ` +
      `startingDeadlineSeconds (${spec.startingDeadlineSeconds}); skipped it`;
    events.push({ type: "Warning", reason: "MissedSchedule", message });
    return plan(withCondition(base, scheduled("False", "MissedSchedule", message)), {
      requeueAfterMs,
    });
  }

  const due = runs.mostRecentDue;
  if (!due) {
    const current = findCondition(base.conditions, SCHEDULED);
    if (current && !BLOCKED_REASONS.has(current.reason)) return plan(base, { requeueAfterMs });
    const waiting = scheduled("True", "Waiting", `Next run at ${rfc3339(runs.next)}`);
    return plan(withCondition(base, waiting), { requeueAfterMs });
  }

  if (runs.missedCount >= MISSED_COUNT_CAP) {
    const message =
      `Missed at least ${MISSED_COUNT_CAP} schedule times; starting only the most recent ` +
      `(${rfc3339(due)}). Check for clock skew or a long controller outage.`;
    events.push({ type: "Warning", reason: "TooManyMissedTimes", message });
  }

  const name = taskNameFor(cronTask.metadata.name ?? "", due);
  const created = { ...base, lastScheduleTime: rfc3339(due) };
  // Created before a restart but the status write was lost: record it, never duplicate it.
  if (owned.some((t) => t.metadata.name === name)) {
    return plan(withCondition(created, scheduled("True", "TaskCreated", `Created Task ${name}`)), {
      requeueAfterMs,
    });
  }

  if (spec.concurrencyPolicy === "Forbid" && active.length > 0) {
    const running = active.map((t) => t.metadata.name).join(", ");
    const message =
      `Skipped the run scheduled at ${rfc3339(due)}: Task ${running} is still active ` +
      `(concurrencyPolicy Forbid)`;
    events.push({ type: "Normal", reason: "TaskAlreadyActive", message });
    return plan(withCondition(base, scheduled("False", "TaskAlreadyActive", message)), {
      requeueAfterMs,
    });
  }

  const replace = spec.concurrencyPolicy === "Replace" ? active : [];
  // Replace: the active Tasks are deleted before the run's Task is created.
  const stillActive = spec.concurrencyPolicy === "Replace" ? [] : (created.active ?? []);
  if (refusal) {
    const [reason, message] = refusal.reason === "NameTaken"
      ? [
        "TaskNameConflict",
        `Task ${refusal.name} already exists and is not owned by this CronTask; skipped this run`,
      ]
      : ["TaskRejected", `the apiserver refused Task ${refusal.name}: ${refusal.message}`];
    events.push({ type: "Warning", reason, message });
    const skipped = { ...created, active: stillActive };
    return plan(withCondition(skipped, scheduled("False", reason, message)), { requeueAfterMs });
  }

  const task = buildTask(cronTask, due);
  const status = withCondition(
    { ...created, active: [...stillActive, referenceTo(task)] },
    scheduled("True", "TaskCreated", `Created Task ${name}`),
  );
  return plan(status, {
    delete: [
      ...prune,
      ...replace.map((t) =>
        deletion(t, `active Task ${t.metadata.name} (concurrencyPolicy Replace)`)
      ),
    ],
    ensure: [{
      type: TaskResource,
      object: task,
      createdEvent: { type: "Normal", reason: "SuccessfulCreate", message: `Created Task ${name}` },
    }],
    requeueAfterMs,
  });
}

/** An Event for each Task the last status listed as active that has since finished. */
function sawCompleted(previous: CronTaskStatus, owned: TaskObject[]): PlannedEvent[] {
  const wasActive = new Set((previous.active ?? []).map((ref) => ref.name));
  return owned
    .filter((t) => wasActive.has(t.metadata.name ?? "") && isFinished(t))
    .map((t) => ({
      type: "Normal" as const,
      reason: "SawCompletedTask",
      message: `Saw completed Task ${t.metadata.name}, phase ${t.status?.phase}`,
    }));
}

/** The plan for a spec the controller cannot use (the CRD should have refused it). */
function invalidSpecPlan(
  { cronTask }: CronTaskObservation,
  message: string,
  now: Date,
): Plan<CronTaskStatus> {
  const generation = cronTask.metadata.generation;
  return emptyPlan({
    status: {
      ...cronTask.status,
      observedGeneration: generation,
      conditions: setCondition(cronTask.status?.conditions, {
        type: SCHEDULED,
        status: "False",
        reason: "InvalidSpec",
        message,
        observedGeneration: generation,
      }, rfc3339(now)),
    },
    events: [{ type: "Warning", reason: "InvalidSpec", message }],
  });
}

/** An empty list is omitted, as Kubernetes status fields are. */
function withoutEmptyActive(status: CronTaskStatus): CronTaskStatus {
  return status.active?.length === 0 ? { ...status, active: undefined } : status;
}
