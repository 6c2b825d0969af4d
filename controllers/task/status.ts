// Pure status derivation: what the reconciler observed → the Task's status,
// and which Events mark the transition. Equal inputs give an equal status so
// the reconciler can skip no-op writes.
import type { Condition, TaskPhase, TaskStatus } from "../../api/v1alpha1/index.ts";
import { jobCondition, jobPhase, type JobView } from "./job_phase.ts";
import type { StopReason } from "./stop.ts";
import type { PlannedEvent } from "../runtime/apply.ts";
import type { AgentResult } from "./results.ts";
import { type PodProgress, WARNING_HOLDS } from "./pod_progress.ts";
import { isFinishedPhase } from "../status.ts";
import { rfc3339, setCondition } from "../runtime/conditions.ts";
import { finalUsage } from "./usage.ts";
import type { KueueHold } from "./kueue.ts";

export type Observation =
  | { kind: "agentNotFound"; agentName: string; namespace: string }
  | { kind: "queued"; agentName: string; limit: number }
  /** The namespace's NamespaceBudget has no more for a period: start at `resetAt`. */
  | { kind: "budgetExhausted"; message: string; resetAt: Date }
  | { kind: "egressPending"; agentName: string; networkPolicy: string }
  | { kind: "nameConflict"; resource: string; name: string }
  | { kind: "invalid"; reason: string; message: string }
  | {
    kind: "job";
    jobName: string;
    job: JobView;
    podCreateFailure?: string;
    /** Whether the agent started, from the Job's cached pods (pod_progress.ts). */
    progress?: PodProgress;
    /** The agent must stop (or was stopped): on request or past its timeout. */
    stop?: StopReason;
    /** What the agent reported, read when its Job finished. */
    result?: AgentResult;
    /** Kueue holds the Job (suspended): waiting for admission, or preempted (kueue.ts). */
    kueue?: KueueHold;
  }
  | { kind: "jobMissing"; jobName: string };

interface Outcome {
  phase: TaskPhase;
  ready: { status: Condition["status"]; reason: string; message: string };
  succeeded: { status: Condition["status"]; reason: string; message: string };
  jobName?: string;
  completionTime?: string;
}

function outcomeOf(obs: Observation, now: string): Outcome {
  switch (obs.kind) {
    case "agentNotFound": {
      const message = `Agent "${obs.agentName}" not found in namespace "${obs.namespace}"`;
      return {
        phase: "Pending",
        ready: { status: "False", reason: "AgentNotFound", message },
        succeeded: { status: "Unknown", reason: "AgentNotFound", message },
      };
    }
    case "queued": {
      const message = `Agent "${obs.agentName}" runs at most ${obs.limit} Task(s) at once; ` +
        "this one starts when a running one finishes";
      return {
        phase: "Queued",
        ready: { status: "False", reason: "AgentAtCapacity", message },
        succeeded: { status: "Unknown", reason: "Queued", message },
      };
    }
    case "budgetExhausted":
      return {
        phase: "Queued",
        ready: { status: "False", reason: "BudgetExhausted", message: obs.message },
        succeeded: { status: "Unknown", reason: "BudgetExhausted", message: obs.message },
      };
    case "egressPending": {
      const message = `Agent "${obs.agentName}" is egress Restricted: the agent pod starts once ` +
        `its NetworkPolicy "${obs.networkPolicy}" is in force (see the Agent's EgressReady condition)`;
      return {
        phase: "Pending",
        ready: { status: "False", reason: "EgressPolicyPending", message },
        succeeded: { status: "Unknown", reason: "EgressPolicyPending", message },
      };
    }
    case "nameConflict": {
      const message = `${obs.resource} "${obs.name}" already exists and is not owned by this Task`;
      return {
        phase: "Pending",
        ready: { status: "False", reason: "NameConflict", message },
        succeeded: { status: "Unknown", reason: "NameConflict", message },
      };
    }
    case "invalid":
      return {
        phase: "Failed",
        ready: { status: "False", reason: obs.reason, message: obs.message },
        succeeded: { status: "False", reason: obs.reason, message: obs.message },
        completionTime: now,
      };
    case "jobMissing": {
      const message = `Job "${obs.jobName}" was deleted before it finished`;
      return {
        phase: "Failed",
        ready: { status: "False", reason: "JobNotFound", message },
        succeeded: { status: "False", reason: "JobNotFound", message },
        jobName: obs.jobName,
        completionTime: now,
      };
    }
    case "job":
      if (!obs.stop && obs.kueue && !isFinishedPhase(jobPhase(obs.job))) {
        return kueueOutcome(obs.jobName, obs.kueue, now);
      }
      return jobOutcome(obs.jobName, obs.job, now, obs.podCreateFailure, obs.stop, obs.progress);
  }
}

/** A Job Kueue holds: Queued while it waits for admission, Failed if preempted after its start. */
function kueueOutcome(jobName: string, hold: KueueHold, now: string): Outcome {
  const ready = {
    status: "True" as const,
    reason: "JobCreated",
    message: `Job "${jobName}" created`,
  };
  if (hold.kind === "preemptedAfterStart") {
    const message = `Job "${jobName}": ${hold.message}`;
    return {
      phase: "Failed",
      ready,
      succeeded: { status: "False", reason: "Preempted", message },
      jobName,
      completionTime: now,
    };
  }
  return {
    phase: "Queued",
    ready: { status: "False", reason: hold.reason, message: hold.message },
    succeeded: { status: "Unknown", reason: hold.reason, message: hold.message },
    jobName,
  };
}

function jobOutcome(
  jobName: string,
  job: JobView,
  now: string,
  podCreateFailure?: string,
  stop?: StopReason,
  progress?: PodProgress,
): Outcome {
  const ready = {
    status: "True" as const,
    reason: "JobCreated",
    message: `Job "${jobName}" created`,
  };
  const jobTaskPhase = jobPhase(job);
  // The phase follows the agent, not the Job: Running once the pod runs it (or
  // a clone), Pending while something holds the pod.
  // A stop of an agent that never started suspends the Job: it ends now, as one without a pod.
  const phase = stop?.notStarted && !isFinishedPhase(jobTaskPhase)
    ? "Pending"
    : !stop && progress?.kind === "noPod" && jobTaskPhase === "Running" && podOnlyCounted(job)
    ? "Pending" // the Job counts its pod before the pod watch delivers it: not known to run
    : stop || isFinishedPhase(jobTaskPhase) || !progress || progress.kind === "noPod"
    ? jobTaskPhase
    : progress.kind === "started"
    ? "Running"
    : "Pending";
  switch (phase) {
    case "Completed":
      return {
        phase,
        ready,
        succeeded: {
          status: "True",
          reason: "JobSucceeded",
          message: `Job "${jobName}" succeeded`,
        },
        jobName,
        completionTime: job.status?.completionTime ??
          jobCondition(job, "Complete")?.lastTransitionTime ?? now,
      };
    case "Failed": {
      const failed = jobCondition(job, "Failed");
      if (stop) {
        return {
          phase,
          ready,
          succeeded: {
            status: "False",
            reason: stop.reason,
            message: `Job "${jobName}": ${stop.message}`,
          },
          jobName,
          completionTime: failed?.lastTransitionTime ?? now,
        };
      }
      if (progress?.kind === "held" && progress.reason === "InitContainerFailed") {
        return {
          phase,
          ready,
          succeeded: { status: "False", reason: progress.reason, message: progress.message },
          jobName,
          completionTime: failed?.lastTransitionTime ?? now,
        };
      }
      const detail = failed?.message || failed?.reason;
      return {
        phase,
        ready,
        succeeded: {
          status: "False",
          reason: "JobFailed",
          message: `Job "${jobName}" failed${detail ? `: ${detail}` : ""}`,
        },
        jobName,
        completionTime: failed?.lastTransitionTime ?? now,
      };
    }
    case "Running":
      return {
        phase,
        ready,
        succeeded: stop
          ? {
            status: "Unknown",
            reason: "Stopping",
            message: `Job "${jobName}": ${stop.message}; stopping the agent's pod`,
          }
          : { status: "Unknown", reason: "JobRunning", message: `Job "${jobName}" is running` },
        jobName,
      };
    case "Pending": {
      if (stop) {
        // The plan suspends the Job: no pod will start (or the held one is deleted).
        return {
          phase: "Failed",
          ready,
          succeeded: {
            status: "False",
            reason: stop.reason,
            message: `Job "${jobName}": ${stop.message}`,
          },
          jobName,
          completionTime: now,
        };
      }
      if (progress?.kind === "held") {
        // The pod exists but the agent has not started: say what holds it.
        const held = { reason: progress.reason, message: progress.message };
        return {
          phase,
          ready: { status: "False", ...held },
          succeeded: { status: "Unknown", ...held },
          jobName,
        };
      }
      if (podCreateFailure) {
        // Not final: the Job controller keeps trying (a quota may free up).
        const message = `Job "${jobName}" cannot create its pod: ${podCreateFailure}`;
        return {
          phase,
          ready: { status: "False", reason: "FailedCreate", message },
          succeeded: { status: "Unknown", reason: "FailedCreate", message },
          jobName,
        };
      }
      return {
        phase,
        ready,
        succeeded: { status: "Unknown", reason: "JobCreated", message: `Job "${jobName}" created` },
        jobName,
      };
    }
  }
}

/**
 * The Job counts an active pod and nothing finished: its pod exists but is
 * not cached yet. (A finished pod leaves the pod cache: a Job that counts one
 * is Running until its final condition, as jobPhase says.)
 */
function podOnlyCounted(job: JobView): boolean {
  const s = job.status ?? {};
  const uncounted = (s.uncountedTerminatedPods?.succeeded?.length ?? 0) +
    (s.uncountedTerminatedPods?.failed?.length ?? 0);
  return (s.active ?? 0) > 0 && !s.succeeded && !s.failed && uncounted === 0 &&
    !jobCondition(job, "SuccessCriteriaMet") && !jobCondition(job, "FailureTarget");
}

/** The status a Task should have given what was observed. */
export function deriveStatus(
  current: TaskStatus | undefined,
  obs: Observation,
  generation: number | undefined,
  nowDate: Date,
): TaskStatus {
  const now = rfc3339(nowDate);
  const out = outcomeOf(obs, now);
  let conditions = current?.conditions ?? [];
  conditions = setCondition(conditions, {
    type: "Ready",
    observedGeneration: generation,
    ...out.ready,
  }, now);
  conditions = setCondition(
    conditions,
    { type: "Succeeded", observedGeneration: generation, ...out.succeeded },
    now,
  );
  const jobName = out.jobName ?? current?.jobName;
  // When its Job was created, or (for a Job Kueue admits) once it left Kueue's queue.
  const startTime = current?.startTime ??
    (out.jobName && out.phase !== "Queued" ? now : undefined);
  const completionTime = isFinishedPhase(out.phase)
    ? current?.completionTime ?? out.completionTime
    : undefined;
  // Collected once, when the Job finishes; a finished Task is never observed again.
  const { dropped, ...result } = obs.kind === "job" && isFinishedPhase(out.phase)
    ? obs.result ?? {}
    : {};
  if (dropped?.length) {
    conditions = setCondition(conditions, truncatedCondition(dropped, generation), now);
  }
  const usage = finalUsage(current?.usage, result?.usage);
  return {
    ...(current?.exitCode !== undefined ? { exitCode: current.exitCode } : {}),
    ...(current?.summary !== undefined ? { summary: current.summary } : {}),
    ...(current?.outputs !== undefined ? { outputs: current.outputs } : {}),
    ...(current?.usage !== undefined ? { usage: current.usage } : {}),
    ...(current?.egress !== undefined ? { egress: current.egress } : {}),
    ...result,
    ...(usage ? { usage } : {}),
    phase: out.phase,
    ...(jobName ? { jobName } : {}),
    ...(startTime ? { startTime } : {}),
    ...(completionTime ? { completionTime } : {}),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
  };
}

/** Nothing the agent reported is dropped silently: the condition names what its bounds left out. */
function truncatedCondition(
  dropped: string[],
  generation: number | undefined,
): Omit<Condition, "lastTransitionTime"> {
  const message = `recorded without: ${dropped.join("; ")}`;
  return {
    type: "ResultRecorded",
    status: "True",
    reason: RESULT_TRUNCATED,
    message: message.length > 1024 ? `${message.slice(0, 1023)}…` : message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

export const RESULT_TRUNCATED = "ResultTruncated";

/** A Warning Event when the agent's result was first recorded truncated, else none. */
export function resultEvent(
  before: TaskStatus | undefined,
  after: TaskStatus,
): PlannedEvent | undefined {
  const truncated = (s: TaskStatus | undefined) =>
    s?.conditions?.find((c) => c.type === "ResultRecorded" && c.reason === RESULT_TRUNCATED);
  const now = truncated(after);
  if (!now || truncated(before)) return undefined;
  return { type: "Warning", reason: RESULT_TRUNCATED, message: now.message ?? RESULT_TRUNCATED };
}

/** An Event when the Succeeded condition's reason changed, else none. */
export function transitionEvent(
  before: TaskStatus | undefined,
  after: TaskStatus,
): PlannedEvent | undefined {
  const was = before?.conditions?.find((c) => c.type === "Succeeded");
  const now = after.conditions?.find((c) => c.type === "Succeeded");
  if (!now || (was?.reason === now.reason && was?.status === now.status)) return undefined;
  // Asked for: a stop is news, not a problem.
  const requested = now.reason === "Stopped" || now.reason === "Stopping";
  // Ordinary startup is not news either: the Job's creation was said.
  if (now.reason === "PodPending" && now.status === "Unknown") return undefined;
  const warning = !requested && (now.status === "False" ||
    ["AgentNotFound", "NameConflict", "FailedCreate", "BudgetExhausted", ...WARNING_HOLDS].includes(
      now.reason,
    ));
  return {
    type: warning ? "Warning" : "Normal",
    reason: now.reason,
    message: now.message ?? now.reason,
  };
}
