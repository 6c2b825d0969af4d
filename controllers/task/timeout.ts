// A Task's timeout: which one is in force (the Task's, else its Agent's, else
// the Agent's maxTimeout), recorded on its Job when the Job is created, and the
// deadline it gives once the Job has started. stop.ts decides what passing it
// means; the plan requeues the Task for the deadline.
import { type Agent, parseDuration, type Task } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

/** On the Job: the timeout in force when it was created (later Agent edits do not move it). */
export const TIMEOUT_ANNOTATION = "kubetask.io/timeout-seconds";

/**
 * The Task's timeout, else its Agent's, else the Agent's maxTimeout (a Task
 * with no timeout would outlast it), in whole seconds; undefined for none.
 */
export function timeoutSecondsOf(task: Task, agent: Agent): number | undefined {
  const value = task.spec.timeout ?? agent.spec.timeout ?? agent.spec.maxTimeout;
  if (!value) return undefined;
  const ms = parseDuration(value);
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : undefined;
}

/** When the Job's agent must be done (ms since epoch), if it has a timeout and has started. */
export function deadlineOf(job: KubeObject): number | undefined {
  const seconds = Number(job.metadata?.annotations?.[TIMEOUT_ANNOTATION]);
  const started = Date.parse(job.status?.startTime ?? "");
  if (!(seconds > 0) || Number.isNaN(started)) return undefined;
  return started + seconds * 1000;
}
