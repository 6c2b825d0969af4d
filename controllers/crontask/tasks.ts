// The Tasks a CronTask creates: how they are named, built, recognised and
// ordered. Pure functions over plain objects.
import {
  API_VERSION,
  type CronTask,
  type ObjectReference,
  type Task,
} from "../../api/v1alpha1/index.ts";
import { controllerReference } from "../runtime/owners.ts";
import { CronTaskResource } from "../kinds.ts";
import type { KubeObject } from "../runtime/types.ts";
import { isFinishedPhase } from "../status.ts";
import { rfc3339 } from "../runtime/conditions.ts";

export { rfc3339 };

/**
 * The API types as Kubernetes objects: the zod-inferred metadata keeps
 * ownerReferences open, KubeObject types them; an object read from the
 * apiserver is both.
 */
export type TaskObject = Task & KubeObject;
export type CronTaskObject = CronTask & KubeObject;

/** Label on every created Task: `kubectl get tasks -l kubetask.io/crontask=<name>`. */
export const CRONTASK_LABEL = "kubetask.io/crontask";
/** Annotation recording the schedule time a Task was created for (RFC 3339). */
export const SCHEDULED_AT_ANNOTATION = "kubetask.io/scheduled-at";

/** `{crontask-name}-{unix-seconds}`: deterministic, so a repeated create is AlreadyExists, not a duplicate. */
export function taskNameFor(cronTaskName: string, scheduledTime: Date): string {
  return `${cronTaskName}-${Math.floor(scheduledTime.getTime() / 1000)}`;
}

/** The Task for one scheduled time, from the CronTask's taskTemplate. */
export function buildTask(cronTask: CronTaskObject, scheduledTime: Date): TaskObject {
  const name = cronTask.metadata.name ?? "";
  const template = cronTask.spec.taskTemplate;
  return {
    apiVersion: API_VERSION,
    kind: "Task",
    metadata: {
      name: taskNameFor(name, scheduledTime),
      namespace: cronTask.metadata.namespace,
      labels: { ...template.metadata?.labels, [CRONTASK_LABEL]: name },
      annotations: {
        ...template.metadata?.annotations,
        [SCHEDULED_AT_ANNOTATION]: rfc3339(scheduledTime),
      },
      ownerReferences: [{ ...controllerReference(cronTask, CronTaskResource) }],
    },
    spec: structuredClone(template.spec),
  };
}

export function isFinished(task: Task): boolean {
  return isFinishedPhase(task.status?.phase);
}

/** Active = still running or about to run; a Task being deleted is already cancelled. */
export function isActive(task: Task): boolean {
  return !isFinished(task) && !task.metadata.deletionTimestamp;
}

export function referenceTo(task: Task): ObjectReference {
  return {
    apiVersion: API_VERSION,
    kind: "Task",
    name: task.metadata.name ?? "",
    namespace: task.metadata.namespace,
    uid: task.metadata.uid,
  };
}

/** When the Task was scheduled: the annotation, else its creation time. For ordering. */
function scheduledMillis(task: Task): number {
  const at = task.metadata.annotations?.[SCHEDULED_AT_ANNOTATION] ??
    task.metadata.creationTimestamp;
  const ms = at ? Date.parse(at) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** Oldest first; ties broken by name so the order is stable. */
export function byScheduledTime(a: Task, b: Task): number {
  return scheduledMillis(a) - scheduledMillis(b) ||
    (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

/**
 * Finished Tasks beyond the history limits, oldest first: keep the newest
 * `successfulLimit` Completed and `failedLimit` Failed Tasks.
 */
export function tasksToPrune(
  tasks: TaskObject[],
  successfulLimit: number,
  failedLimit: number,
): TaskObject[] {
  const live = tasks.filter((t) => !t.metadata.deletionTimestamp);
  const excess = (phase: string, limit: number) => {
    const done = live.filter((t) => t.status?.phase === phase).sort(byScheduledTime);
    return done.slice(0, Math.max(0, done.length - limit));
  };
  return [...excess("Completed", successfulLimit), ...excess("Failed", failedLimit)];
}

/** The latest completionTime among Completed Tasks, or `previous` if later (pruned Tasks are gone). */
export function lastSuccessfulTime(tasks: Task[], previous?: string): string | undefined {
  let best = previous ? Date.parse(previous) : NaN;
  let bestText = previous;
  for (const t of tasks) {
    if (t.status?.phase !== "Completed" || !t.status.completionTime) continue;
    const ms = Date.parse(t.status.completionTime);
    if (Number.isNaN(best) || ms > best) {
      best = ms;
      bestText = t.status.completionTime;
    }
  }
  return bestText;
}
