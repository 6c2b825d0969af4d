// The pure core of the CronTask controller: from the CronTask, the Tasks it
// owns and the time, decide what to create, delete and report.
import type { CronTaskStatus } from "../../api/v1alpha1/index.ts";
import { type Deletion, type Plan, type PlannedEvent, type Refusal } from "../runtime/apply.ts";
import { TaskResource } from "../kinds.ts";
import { type ConditionUpdate, findCondition, SCHEDULED, setCondition } from "./conditions.ts";
import { dueRuns, MISSED_COUNT_CAP } from "./schedule.ts";
import {
  buildTask,
  byScheduledTime,
  type CronTaskObject,
  isActive,
  isFinished,
  lastSuccessfulTime,
  referenceTo,
  rfc3339,
  taskNameFor,
  type TaskObject,
  tasksToPrune,
} from "./tasks.ts";

export type { PlannedEvent };

export interface CronTaskPlan {
  /** Finished Tasks beyond the history limits. */
  prune: TaskObject[];
  /** Active Tasks to delete before `create` (concurrencyPolicy Replace). */
  replace: TaskObject[];
  /** The Task for the due schedule time, if one should start now. */
  create?: TaskObject;
  /** The status to write, assuming `create` succeeds. */
  status: CronTaskStatus;
  events: PlannedEvent[];
  /** Until the next schedule time; absent when only a spec change can help. */
  requeueAfterMs?: number;
}

/**
 * Longest requeue: a yearly schedule would otherwise ask for a timer beyond
 * what setTimeout can hold (2^31 ms). Waking early just recomputes and waits again.
 */
export const MAX_REQUEUE_MS = 24 * 3_600_000;

/** Reasons that say the CronTask cannot schedule at all; cleared once it can. */
const BLOCKED_REASONS = new Set(["Suspended", "InvalidSchedule", "InvalidSpec"]);

/** `cronTask.spec` must already carry defaults (parsed with the zod schema). */
export function planCronTask(
  cronTask: CronTaskObject,
  owned: TaskObject[],
  now: Date,
): CronTaskPlan {
  const spec = cronTask.spec;
  const previous = cronTask.status ?? {};
  const generation = cronTask.metadata.generation;
  const nowText = rfc3339(now);
  const active = owned.filter(isActive).sort(byScheduledTime);
  const events: PlannedEvent[] = sawCompleted(previous, owned);
  const prune = tasksToPrune(owned, spec.successfulTasksHistoryLimit, spec.failedTasksHistoryLimit);

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
  const plan = (status: CronTaskStatus, extra: Partial<CronTaskPlan> = {}): CronTaskPlan => ({
    prune,
    replace: [],
    status,
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

  const task = buildTask(cronTask, due);
  const replace = spec.concurrencyPolicy === "Replace" ? active : [];
  const stillActive = spec.concurrencyPolicy === "Replace" ? [] : (created.active ?? []);
  const status = withCondition(
    { ...created, active: [...stillActive, referenceTo(task)] },
    scheduled("True", "TaskCreated", `Created Task ${name}`),
  );
  return plan(status, { create: task, replace, requeueAfterMs });
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

/** The domain plan as the apply layer takes it (deletions first, then the create). */
export function toApplyPlan(cronTask: CronTaskObject, p: CronTaskPlan): Plan<CronTaskStatus> {
  const deletion = (task: TaskObject, what: string): Deletion => ({
    type: TaskResource,
    namespace: cronTask.metadata.namespace ?? "",
    name: task.metadata.name ?? "",
    uid: task.metadata.uid,
    event: { type: "Normal", reason: "SuccessfulDelete", message: `Deleted ${what}` },
  });
  const name = p.create?.metadata.name;
  return {
    delete: [
      ...p.prune.map((t) => deletion(t, `finished Task ${t.metadata.name}`)),
      ...p.replace.map((t) =>
        deletion(t, `active Task ${t.metadata.name} (concurrencyPolicy Replace)`)
      ),
    ],
    ensure: p.create
      ? [{
        type: TaskResource,
        object: p.create,
        createdEvent: {
          type: "Normal",
          reason: "SuccessfulCreate",
          message: `Created Task ${name}`,
        },
      }]
      : [],
    status: withoutEmptyActive(p.status),
    events: p.events,
    requeueAfterMs: p.requeueAfterMs,
  };
}

/**
 * The run's Task could not be created: its name is held by a Task this
 * CronTask does not control, or the apiserver refused it. Skip the run, say why.
 */
export function refusedPlan(
  cronTask: CronTaskObject,
  p: CronTaskPlan,
  refusal: Refusal,
  now: Date,
): Plan<CronTaskStatus> {
  const [reason, message] = refusal.reason === "NameTaken"
    ? [
      "TaskNameConflict",
      `Task ${refusal.name} already exists and is not owned by this CronTask; skipped this run`,
    ]
    : ["TaskRejected", `the apiserver refused Task ${refusal.name}: ${refusal.message}`];
  const status: CronTaskStatus = {
    ...p.status,
    active: p.status.active?.filter((ref) => ref.name !== refusal.name),
    conditions: setCondition(p.status.conditions, {
      type: SCHEDULED,
      status: "False",
      reason,
      message,
      observedGeneration: cronTask.metadata.generation,
    }, rfc3339(now)),
  };
  return {
    delete: [],
    ensure: [],
    status: withoutEmptyActive(status),
    events: [...p.events, { type: "Warning", reason, message }],
    requeueAfterMs: p.requeueAfterMs,
  };
}

/** The plan for a spec the controller cannot use (the CRD should have refused it). */
export function invalidSpecPlan(
  cronTask: CronTaskObject,
  message: string,
  now: Date,
): Plan<CronTaskStatus> {
  const generation = cronTask.metadata.generation;
  return {
    delete: [],
    ensure: [],
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
  };
}

/** An empty list is omitted, as Kubernetes status fields are. */
function withoutEmptyActive(status: CronTaskStatus): CronTaskStatus {
  return status.active?.length === 0 ? { ...status, active: undefined } : status;
}
