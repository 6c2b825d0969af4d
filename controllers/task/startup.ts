// A Task's startup timeout: how long its pod may take to start the agent (or
// its Git clone). Recorded on the Job when it is created, like the timeout
// (timeout.ts), and counted from the Job's creation: a Task's Job is created
// only once it leaves the queue, so time Queued does not count. Past it, a
// Task whose pod is still held (pod_progress.ts) fails with the reason that
// held it; the plan requeues the Task for the deadline (no polling).
import {
  type Agent,
  DEFAULT_STARTUP_TIMEOUT,
  parseDuration,
  type Task,
} from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import type { PodProgress } from "./pod_progress.ts";
import type { StopReason } from "./stop.ts";
import { kueueQueueOf } from "./kueue.ts";

/** On the Job: the startup timeout in force when it was created. */
export const STARTUP_TIMEOUT_ANNOTATION = "kubetask.io/startup-timeout-seconds";

const seconds = (value: string | undefined): number | undefined => {
  const ms = value ? parseDuration(value) : NaN;
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : undefined;
};

/** The Agent's startup timeout (default 10m), or the Task's when shorter; whole seconds. */
export function startupTimeoutSecondsOf(task: Task, agent: Agent): number {
  const agentSeconds = seconds(agent.spec.startupTimeout) ??
    seconds(DEFAULT_STARTUP_TIMEOUT)!;
  const taskSeconds = seconds(task.spec.startupTimeout);
  return taskSeconds !== undefined ? Math.min(taskSeconds, agentSeconds) : agentSeconds;
}

/** The recorded startup timeout; a Job created before it was recorded gets the default. */
function recordedSeconds(job: KubeObject): number {
  const recorded = Number(job.metadata?.annotations?.[STARTUP_TIMEOUT_ANNOTATION]);
  return recorded > 0 ? recorded : seconds(DEFAULT_STARTUP_TIMEOUT)!;
}

/** When the Job's pod must have started the agent (ms since epoch), if the Job is dated. */
export function startupDeadlineOf(job: KubeObject): number | undefined {
  // A Job Kueue admits starts counting when it is unsuspended (its startTime):
  // time waiting in Kueue does not count, as time Queued does not.
  if (kueueQueueOf(job)) {
    const admitted = Date.parse(job.status?.startTime ?? "");
    return Number.isNaN(admitted) ? undefined : admitted + recordedSeconds(job) * 1000;
  }
  const created = Date.parse(job.metadata?.creationTimestamp ?? "");
  return Number.isNaN(created) ? undefined : created + recordedSeconds(job) * 1000;
}

/** A pod that has yet to start the agent. A failed clone ends the pod, and the Job, by itself. */
export function startupPending(
  progress: PodProgress | undefined,
): progress is Extract<PodProgress, { kind: "held" }> {
  return progress?.kind === "held" && progress.reason !== "InitContainerFailed";
}

/** A stop of an agent whose pod has yet to start it suspends the Job (stop.ts). */
export function withNotStarted(stop: StopReason, progress: PodProgress): StopReason {
  return startupPending(progress) ? { ...stop, notStarted: true } : stop;
}

/** The agent's pod is still held past its startup timeout: the Task fails with the hold's reason. */
export function startupStop(
  job: KubeObject,
  progress: PodProgress,
  now: Date,
): StopReason | undefined {
  if (!startupPending(progress)) return undefined;
  const deadline = startupDeadlineOf(job);
  if (deadline === undefined || now.getTime() < deadline) return undefined;
  return {
    reason: progress.reason,
    message: `${progress.message} (not started within its startup timeout of ${
      recordedSeconds(job)
    }s)`,
    notStarted: true,
  };
}
