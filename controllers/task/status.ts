// Pure status derivation: what the reconciler observed → the Task's status,
// and which Events mark the transition. Equal inputs give an equal status so
// the reconciler can skip no-op writes.
import type { Condition, TaskPhase, TaskStatus } from "../../api/v1alpha1/index.ts";
import { jobCondition, jobPhase, type JobView } from "./job_phase.ts";
import type { StopReason } from "./stop.ts";
import type { PlannedEvent } from "../runtime/apply.ts";
import type { AgentResult } from "./results.ts";
import { isFinishedPhase } from "../status.ts";
import { rfc3339, setCondition } from "../runtime/conditions.ts";
import { finalUsage } from "./usage.ts";

export type Observation =
  | { kind: "agentNotFound"; agentName: string; namespace: string }
  | { kind: "queued"; agentName: string; limit: number }
  | { kind: "egressPending"; agentName: string; networkPolicy: string }
  | { kind: "nameConflict"; resource: string; name: string }
  | { kind: "invalid"; reason: string; message: string }
  | {
    kind: "job";
    jobName: string;
    job: JobView;
    podCreateFailure?: string;
    /** The agent must stop (or was stopped): on request or past its timeout. */
    stop?: StopReason;
    /** What the agent reported, read when its Job finished. */
    result?: AgentResult;
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
      return jobOutcome(obs.jobName, obs.job, now, obs.podCreateFailure, obs.stop);
  }
}

function jobOutcome(
  jobName: string,
  job: JobView,
  now: string,
  podCreateFailure?: string,
  stop?: StopReason,
): Outcome {
  const ready = {
    status: "True" as const,
    reason: "JobCreated",
    message: `Job "${jobName}" created`,
  };
  const phase = jobPhase(job);
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
        // The plan suspends the Job: no pod will start.
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
  const startTime = current?.startTime ?? (out.jobName ? now : undefined);
  const completionTime = isFinishedPhase(out.phase)
    ? current?.completionTime ?? out.completionTime
    : undefined;
  // Collected once, when the Job finishes; a finished Task is never observed again.
  const result = obs.kind === "job" && isFinishedPhase(out.phase) ? obs.result : undefined;
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
  const warning = !requested && (now.status === "False" ||
    ["AgentNotFound", "NameConflict", "FailedCreate"].includes(now.reason));
  return {
    type: warning ? "Warning" : "Normal",
    reason: now.reason,
    message: now.message ?? now.reason,
  };
}
