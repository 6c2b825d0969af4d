// Stopping an agent: asked for with an annotation, or because its timeout
// passed. Pure decisions; the plan turns them into patches.
//
// A running agent is stopped by giving its pod an activeDeadlineSeconds that
// has already passed: the kubelet kills the containers and keeps the pod
// (Failed, DeadlineExceeded), so `kubectl logs` still shows what the agent
// did, and with backoffLimit 0 the Job fails without a new pod. A Job whose
// pod does not exist yet is suspended instead: there is nothing to keep.
import {
  type Agent,
  parseDuration,
  STOP_ANNOTATION,
  type Task,
  TERMINATE_ANNOTATION,
} from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

/** On the Job: the timeout in force when it was created (later Agent edits do not move it). */
export const TIMEOUT_ANNOTATION = "kubetask.io/timeout-seconds";

/** Why an agent must stop, as the Task's condition will say. */
export interface StopReason {
  reason: "Stopped" | "Timeout";
  message: string;
}

export function stopRequested(task: Task | KubeObject): boolean {
  const annotations = task.metadata?.annotations ?? {};
  return annotations[STOP_ANNOTATION] === "true" || annotations[TERMINATE_ANNOTATION] === "true";
}

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

/** Whether, and why, the agent of `job` must stop now. */
export function stopReason(
  task: Task | KubeObject,
  job: KubeObject,
  now: Date,
): StopReason | undefined {
  if (stopRequested(task)) {
    return {
      reason: "Stopped",
      message: `stopped on request (annotation ${STOP_ANNOTATION}=true)`,
    };
  }
  const deadline = deadlineOf(job);
  if (deadline !== undefined && now.getTime() >= deadline) {
    const seconds = job.metadata?.annotations?.[TIMEOUT_ANNOTATION];
    return { reason: "Timeout", message: `the agent ran longer than its timeout (${seconds}s)` };
  }
  return undefined;
}

/** The patch that makes the kubelet stop `pod` now; undefined if nothing needs doing. */
export function podStopPatch(pod: KubeObject, now: Date): KubeObject | undefined {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed" || pod.metadata?.deletionTimestamp) {
    return undefined;
  }
  const started = Date.parse(pod.status?.startTime ?? "");
  // Counted from the pod's start: a value already behind us ends it at once.
  const elapsed = Number.isNaN(started) ? 1 : Math.ceil((now.getTime() - started) / 1000);
  const seconds = Math.max(1, elapsed);
  const current = pod.spec?.activeDeadlineSeconds;
  // The apiserver lets this field only be set or lowered.
  if (typeof current === "number" && current <= seconds) return undefined;
  return { spec: { activeDeadlineSeconds: seconds } };
}
