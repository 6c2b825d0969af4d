// Stopping an agent: asked for with an annotation, because its timeout
// passed (timeout.ts says when that is), or because the model gateway refused
// a call for the Task's budget. Pure decisions; the plan turns them
// into patches.
//
// A running agent is stopped by giving its pod an activeDeadlineSeconds that
// has already passed: the kubelet kills the containers and keeps the pod
// (Failed, DeadlineExceeded), so `kubectl logs` still shows what the agent
// did, and with backoffLimit 0 the Job fails without a new pod. A Job whose
// pod does not exist yet is suspended instead: there is nothing to keep.
import { STOP_ANNOTATION, type Task, TERMINATE_ANNOTATION } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { deadlineOf, TIMEOUT_ANNOTATION } from "./timeout.ts";
import type { HoldReason } from "./pod_progress.ts";

/** Why an agent must stop, as the Task's condition will say. */
export interface StopReason {
  /** A HoldReason: the pod did not start within its startup timeout (startup.ts). */
  reason: "Stopped" | "Timeout" | "BudgetExceeded" | HoldReason;
  message: string;
  /**
   * The agent never started (its pod is held): the Job is suspended, as one
   * with no pod yet. There is no log to keep, and a pod no node took would
   * never see an activeDeadlineSeconds.
   */
  notStarted?: boolean;
  /**
   * Epoch ms before which a running agent is left to end by itself: the gateway refuses its
   * every call already, so nothing more is spent, and the CLI gets to print why it stops.
   */
  notBefore?: number;
}

/**
 * How long an agent over its budget may go on after the gateway's mark: long enough for a CLI
 * to show the refusal it got and exit (killed at once, some were, their message unprinted).
 */
export const BUDGET_STOP_GRACE_MS = 15_000;

export function stopRequested(task: Task | KubeObject): boolean {
  const annotations = task.metadata?.annotations ?? {};
  return annotations[STOP_ANNOTATION] === "true" || annotations[TERMINATE_ANNOTATION] === "true";
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
  // The gateway refused a call for the budget: the agent cannot go on, so it ends (after a
  // grace for the CLI to say so).
  const usage = (task.status as Task["status"])?.usage;
  if (usage?.budgetExceeded) {
    // Counted from the gateway's write of the mark; without its time, at once.
    const marked = Date.parse(usage.updateTime ?? "");
    return {
      reason: "BudgetExceeded",
      message: usage.budgetExceeded,
      ...(Number.isNaN(marked) ? {} : { notBefore: marked + BUDGET_STOP_GRACE_MS }),
    };
  }
  // Suspended (waiting in Kueue, or preempted back into it): the timeout does not run.
  const deadline = job.spec?.suspend === true ? undefined : deadlineOf(job);
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
