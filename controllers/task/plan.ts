// The pure core of the Task controller: from what was observed and the time
// (read once per reconcile), every decision and the plan for the apply layer
// (the ConfigMap and Job to create, the status, its Event, a TTL deletion or
// when to look again).
//
// It runs in two steps around the live reads: decide (from the cached facts:
// may the Task start, must its agent stop, and so which live reads are worth
// making), then planTask (from the facts, those reads and the decisions).
import {
  DEFAULT_AGENT_IMAGE,
  gitHostsAutomatic,
  STOP_ANNOTATION,
  type TaskStatus,
} from "../../api/v1alpha1/index.ts";
import {
  type Deletion,
  type Desired,
  emptyPlan,
  type Patch,
  type Plan,
  type PlannedEvent,
  type Refusal,
  type UntrustedStatus,
} from "../runtime/apply.ts";
import {
  mountPathProblem,
  serviceAccountProblem,
  sizeProblem,
  taskMountProblem,
} from "./checks.ts";
import { baselineProblem } from "./baseline.ts";
import { limitProblem } from "./limits.ts";
import { budgetProblem } from "./budget.ts";
import { gatewayProblem } from "./gateway.ts";
import { namespaceExhausted } from "./namespace_budget.ts";
import {
  ConfigMapResource,
  JobResource,
  NetworkPolicyResource,
  PodResource,
} from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import type { KubeObject } from "../runtime/types.ts";
import { admitted } from "./capacity.ts";
import {
  agentProblem,
  buildAgentJob,
  buildContextConfigMap,
  type JobSettings,
  planContextVolume,
} from "./job.ts";
import type { Blocked, LiveReads, TaskObservation } from "./observe.ts";
import { jobPhase, type JobView } from "./job_phase.ts";
import { deriveStatus, type Observation, resultEvent, transitionEvent } from "./status.ts";
import { AGENT_SUPPLIED_FIELDS, agentResult } from "./results.ts";
import { podStopPatch, type StopReason, stopReason, stopRequested } from "./stop.ts";
import { deadlineOf } from "./timeout.ts";
import { startupDeadlineOf, startupPending, startupStop, withNotStarted } from "./startup.ts";
import { type PodProgress, podProgress, steadyProgress } from "./pod_progress.ts";
import { ttlDecision } from "./retention.ts";
import { isFinishedPhase } from "../status.ts";
import { rfc3339 } from "../runtime/conditions.ts";
import { restrictedPolicyInForce, taskEgressOf } from "../egress/mode.ts";
import { planTaskGitEgress, type Resolution, taskGitEgressStatus } from "../egress/git.ts";
import type { ResolvedContext } from "./contexts.ts";
import { type KueueHold, kueueHold, kueueQueueOf, kueueSuspended } from "./kueue.ts";
import { gitProxyPlan, gitTokenEvent } from "./git_proxy.ts";

const BUILT_IN_AGENT_EVENT: PlannedEvent = {
  type: "Normal",
  reason: "BuiltInAgent",
  message: `No agentRef and no Agent "default" in this namespace: running the built-in Agent ` +
    `(${DEFAULT_AGENT_IMAGE}, ServiceAccount "default" without its token)`,
};

const STOPPED_BEFORE_START =
  `stopped on request (annotation ${STOP_ANNOTATION}=true) before the agent started`;

/** What is decided before the live reads, once per reconcile. */
export interface Decisions {
  /** A Task with a Job: why its agent must stop, if it must. */
  stop?: StopReason;
  /** A Task with a Job: has its agent started, and if not, what holds its pod (cached pods). */
  progress?: PodProgress;
  /** A Task with a Job Kueue holds (suspended): waiting for admission, or preempted. */
  kueue?: KueueHold;
  /** A Task without a Job: why it cannot start now (its Agent, its checks, a full Agent). */
  blocked?: Blocked;
  /** The live reads worth making (observeLive). */
  reads: LiveReads;
}

/** The decisions the cached facts allow, at `now`. */
export function decide(obs: TaskObservation, now: Date): Decisions {
  const { task, job } = obs;
  if (isFinishedPhase(task.status?.phase) || obs.invalidSpec) {
    return { reads: { pods: false, contexts: false } };
  }
  if (job) {
    const progress = steadyProgress(podProgress(obs.cachedPods ?? []), task.status);
    const stop = stopOf(obs, job, now, progress);
    const phase = jobPhase(job);
    // The pods, only to stop a running agent and, once, to read a finished one's report.
    const pods = isFinishedPhase(phase) ||
      (phase === "Running" && stop !== undefined && !stop.notStarted);
    const kueue = isFinishedPhase(phase)
      ? undefined
      : kueueHold(job, obs.workload, task.status?.phase === "Running");
    return {
      ...(stop ? { stop } : {}),
      ...(kueue ? { kueue } : {}),
      progress,
      reads: { pods, contexts: false },
    };
  }
  // No Agent observed: the Job's name is taken, or our Job is gone.
  const blocked = obs.agent ? startBlocker(obs, now) : undefined;
  // Contexts are resolved only for a Task that will start if they can be.
  const contexts = obs.agent?.kind === "found" && !blocked && !stopRequested(task);
  return { ...(blocked ? { blocked } : {}), reads: { pods: false, contexts } };
}

/**
 * Why the agent must stop, if it must. A failed Job is judged at the time it
 * failed, so one that failed by itself is not called a timeout later.
 */
function stopOf(
  obs: TaskObservation,
  job: JobView,
  now: Date,
  progress: PodProgress,
): StopReason | undefined {
  const phase = jobPhase(job);
  if (phase === "Completed") return undefined;
  const failedAt = job.status?.conditions?.find((c) => c.type === "Failed")?.lastTransitionTime;
  const at = phase === "Failed" && failedAt ? new Date(failedAt) : now;
  const stop = stopReason(obs.task, job, at);
  if (phase === "Failed") return stop;
  return stop ? withNotStarted(stop, progress) : startupStop(job, progress, now);
}

/** Why a Task without a Job cannot start now, checked in this order; undefined when it may. */
function startBlocker(obs: TaskObservation, now: Date): Blocked | undefined {
  const found = obs.agent!;
  const namespace = obs.task.metadata.namespace ?? "";
  if (found.kind === "missing") {
    return { kind: "agentNotFound", agentName: found.agentName, namespace };
  }
  if (found.kind === "invalid") {
    return {
      kind: "invalid",
      reason: "InvalidAgent",
      message: `Agent "${found.agentName}" is invalid`,
    };
  }
  const problem = agentProblem(obs.task, found.agent);
  if (problem) return { kind: "invalid", reason: "InvalidAgent", message: problem };
  const exhausted = namespaceExhausted(obs.namespaceBudget, now);
  if (exhausted) {
    return { kind: "budgetExhausted", message: exhausted.message, resetAt: exhausted.resetAt };
  }
  if (obs.slots && !admitted(obs.slots)) {
    return { kind: "queued", agentName: found.agent.metadata.name ?? "", limit: obs.slots.limit };
  }
  return undefined;
}

/** Only for a name held by an object we do not own; its deletion also wakes us. */
export const NAME_CONFLICT_RETRY_MS = 10_000;

/** What the agent reported is its input, not ours: a status refused for it is written without it. */
export const AGENT_RESULT: UntrustedStatus = {
  fields: AGENT_SUPPLIED_FIELDS,
  condition: { type: "ResultRecorded", reason: "AgentResultRejected" },
};

/**
 * The plan for one Task, from what was observed (with the live reads
 * `decisions` asked for) and those decisions; `refusal` is set when the apply
 * layer could not create an object.
 */
export function planTask(
  obs: TaskObservation,
  decisions: Decisions,
  settings: JobSettings,
  now: Date,
  refusal?: Refusal,
): Plan<TaskStatus> {
  return { ...planFor(obs, decisions, settings, now, refusal), untrustedStatus: AGENT_RESULT };
}

function planFor(
  obs: TaskObservation,
  decisions: Decisions,
  settings: JobSettings,
  now: Date,
  refusal?: Refusal,
): Plan<TaskStatus> {
  const { task } = obs;
  // A finished Task is never rebuilt; only its TTL matters.
  if (isFinishedPhase(task.status?.phase)) return ttlPlan(obs, task.status!, now, undefined, []);

  const ensure: Desired[] = [];
  const patch: Patch[] = [];
  const deletions: Deletion[] = [];
  let requeueAfterMs: number | undefined;
  let state: Observation;
  let egress: TaskStatus["egress"];
  let gitWarning: PlannedEvent | undefined;
  let gitToken: PlannedEvent | undefined;
  if (refusal?.reason === "NameTaken") {
    state = { kind: "nameConflict", resource: refusal.type.kind, name: refusal.name };
  } else if (refusal) {
    state = {
      kind: "invalid",
      reason: `${refusal.type.kind}Rejected`,
      message: `the apiserver refused ${refusal.type.kind} "${refusal.name}": ${refusal.message}`,
    };
  } else if (obs.invalidSpec) {
    state = { kind: "invalid", reason: "InvalidSpec", message: obs.invalidSpec };
  } else if (!obs.job && stopRequested(task)) {
    // Nothing started (or nothing of ours): no Job will be.
    state = { kind: "invalid", reason: "Stopped", message: STOPPED_BEFORE_START };
  } else if (obs.foreignJob) {
    state = { kind: "nameConflict", resource: "Job", name: obs.jobName };
  } else if (obs.jobGone) {
    state = { kind: "jobMissing", jobName: obs.jobName };
  } else if (obs.job) {
    const stop = decisions.stop;
    state = {
      kind: "job",
      jobName: obs.jobName,
      job: obs.job,
      podCreateFailure: obs.podCreateFailure,
      // A finished pod has left the cache (it keeps unfinished pods only): the live read has it.
      progress: isFinishedPhase(jobPhase(obs.job)) && obs.pods
        ? podProgress(obs.pods)
        : decisions.progress,
      stop,
      result: obs.pods ? agentResult(obs.pods) : undefined,
      ...(decisions.kueue ? { kueue: decisions.kueue } : {}),
    };
    const phase = jobPhase(obs.job);
    const namespace = task.metadata.namespace ?? "";
    const inKueue = kueueQueueOf(obs.job) !== undefined;
    if (
      inKueue && !isFinishedPhase(phase) &&
      ((stop && (phase === "Pending" || stop.notStarted || kueueSuspended(obs.job))) ||
        decisions.kueue?.kind === "preemptedAfterStart")
    ) {
      // Kueue unsuspends what it admits: a Job that must never run its agent
      // (again) is deleted, and its Workload with it (kueue.ts). It has no pod
      // whose logs are worth keeping: none ran, or Kueue's suspension ended it.
      deletions.push({
        type: JobResource,
        namespace,
        name: obs.jobName,
        uid: obs.job.metadata?.uid,
        event: {
          type: "Normal",
          reason: "KueueJobDeleted",
          message: `deleted Job "${obs.jobName}" so that Kueue never starts it: ${
            stop ? stop.message : "preempted after the agent started"
          }`,
        },
      });
    } else if (stop && (phase === "Pending" || stop.notStarted)) {
      // No pod yet, so no logs to keep: the Job simply never starts one.
      patch.push({
        type: JobResource,
        namespace,
        name: obs.jobName,
        patch: { spec: { suspend: true } },
      });
    } else if (stop && phase === "Running" && (stop.notBefore ?? 0) > now.getTime()) {
      // Over its budget, refused: the agent may still end by itself, saying why.
      requeueAfterMs = stop.notBefore! - now.getTime();
    } else if (stop && phase === "Running") {
      for (const pod of obs.pods ?? []) {
        const stopPod = podStopPatch(pod, now);
        const name = pod.metadata?.name ?? "";
        if (stopPod) patch.push({ type: PodResource, namespace, name, patch: stopPod });
      }
    } else if (!stop && !isFinishedPhase(phase)) {
      // Woken at the first deadline to come: the timeout's, and the startup
      // timeout's while the pod is held (no polling).
      const deadlines = [
        phase === "Running" ? deadlineOf(obs.job) : undefined,
        startupPending(decisions.progress) ? startupDeadlineOf(obs.job) : undefined,
      ].filter((d): d is number => d !== undefined);
      if (deadlines.length) requeueAfterMs = Math.max(0, Math.min(...deadlines) - now.getTime());
    }
  } else if (decisions.blocked) {
    state = decisions.blocked;
  } else if (obs.contexts && !Array.isArray(obs.contexts)) {
    state = { kind: "invalid", ...obs.contexts };
  } else if (obs.agent?.kind === "found" && obs.contexts) {
    const { agent, builtIn } = obs.agent;
    const contexts = obs.contexts;
    // task.md and the files, laid out once for the ConfigMap and the Job's volume.
    const volume = planContextVolume(task, agent.spec.workspaceDir, contexts);
    const configMap = buildContextConfigMap(task, agent, contexts, volume, settings) as KubeObject;
    const problem = serviceAccountProblem(agent, settings.operatorServiceAccount) ??
      baselineProblem(agent, settings.allowPrivilegedAgents ?? false) ??
      gatewayProblem(agent, settings.gateway) ?? budgetProblem(task, agent) ??
      limitProblem(task, agent) ?? taskMountProblem(task, agent) ??
      mountPathProblem(agent, contexts) ?? sizeProblem(configMap);
    const taskEgress = taskEgressOf(
      agent.metadata.name ?? "",
      agent.spec,
      obs.config,
      settings.defaultEgress,
    );
    if (problem) {
      state = { kind: "invalid", ...problem };
    } else if (taskEgress.mode === "Restricted" && !restrictedPolicyInForce(agent)) {
      // Never a pod before its policy: it would run unrestricted until then. The
      // Agent's status change wakes this Task (the Task controller watches Agents).
      state = {
        kind: "egressPending",
        agentName: agent.metadata.name ?? "",
        networkPolicy: taskEgress.networkPolicy ?? "",
      };
    } else {
      const job = buildAgentJob(task, agent, contexts, settings, volume) as KubeObject;
      const gitEgress = taskEgress.mode === "Restricted" && gitHostsAutomatic(agent.spec.egress)
        ? gitEgressOf(task, agent, contexts, obs.gitHosts, now)
        : undefined;
      // Before the Job: the clone must find its way open (a policy created
      // after the pod could only ever be late, never too open).
      if (gitEgress?.policy) {
        ensure.push({
          type: NetworkPolicyResource,
          object: gitEgress.policy,
          syncFields: ["spec"],
        });
      }
      // The ConfigMap first: the Job's pod mounts it. A ConfigMap left by an
      // attempt that stopped before the Job is brought up to date.
      ensure.push({
        type: ConfigMapResource,
        object: configMap,
        syncFields: ["data", "binaryData"],
      });
      ensure.push({
        type: JobResource,
        object: job,
        ...(builtIn ? { createdEvent: BUILT_IN_AGENT_EVENT } : {}),
      });
      // A Job for Kueue waits in its queue from the start: Queued, not Pending.
      const kueue = kueueHold(job, undefined, false);
      state = {
        kind: "job",
        jobName: job.metadata?.name ?? obs.jobName,
        job: {},
        ...(kueue ? { kueue } : {}),
      };
      // Said once, as the Job is made: where the Agent's Git token went.
      gitToken = gitTokenEvent(
        agent,
        gitProxyPlan(agent, contexts, settings.gitProxy),
        settings.gitProxy !== undefined,
      );
      // Said once, as the pod starts: the policy its Agent's mode put it under.
      egress = gitEgress ? { ...taskEgress, git: gitEgress.status } : taskEgress;
      if (gitEgress?.problems.length) {
        gitWarning = {
          type: "Warning",
          reason: "GitEgressIncomplete",
          message: `Git contexts' hosts left out of the Task's egress policy: ` +
            gitEgress.problems.join("; ").slice(0, 1024),
        };
      }
    }
  } else {
    throw new Error("a Task without a Job was observed without what starting it needs");
  }

  const derived = deriveStatus(task.status, state, obs.raw.metadata?.generation, now);
  const status = egress ? { ...derived, egress } : derived;
  const event = transitionEvent(task.status, status);
  const truncated = resultEvent(task.status, status);
  const events: PlannedEvent[] = [
    ...(event ? [event] : []),
    ...(truncated ? [truncated] : []),
    ...(gitWarning ? [gitWarning] : []),
    ...(gitToken ? [gitToken] : []),
  ];
  if (isFinishedPhase(status.phase)) {
    const ttl = ttlPlan(obs, status, now, ensure, events);
    return { ...ttl, patch, delete: [...deletions, ...ttl.delete] };
  }
  if (state.kind === "nameConflict") requeueAfterMs = NAME_CONFLICT_RETRY_MS;
  // Released at the reset (a change to the NamespaceBudget, e.g. a raised limit, wakes it sooner).
  if (state.kind === "budgetExhausted") {
    requeueAfterMs = Math.max(0, state.resetAt.getTime() - now.getTime());
  }
  return emptyPlan({ ensure, patch, delete: deletions, status, events, requeueAfterMs });
}

/**
 * A Restricted Agent's Task with Git contexts: the NetworkPolicy that lets its
 * pod alone reach their hosts (controllers/egress/git.ts), and what its status
 * says of it. Undefined without Git contexts.
 */
function gitEgressOf(
  task: TaskObservation["task"],
  agent: { metadata: { uid?: string } },
  contexts: ResolvedContext[],
  gitHosts: ReadonlyMap<string, Resolution> | undefined,
  now: Date,
) {
  const repositories = contexts.flatMap((c) =>
    c.kind === "git"
      ? [{
        source: `Context "${
          c.namespace === task.metadata.namespace ? c.name : `${c.namespace}/${c.name}`
        }"`,
        repository: c.git.repository,
      }]
      : []
  );
  if (repositories.length === 0) return undefined;
  const plan = planTaskGitEgress(
    {
      name: task.metadata.name ?? "",
      namespace: task.metadata.namespace ?? "",
      uid: task.metadata.uid ?? "",
    },
    agent.metadata.uid ?? "",
    repositories,
    gitHosts ?? new Map(),
  );
  return {
    policy: plan.policy,
    problems: plan.problems,
    status: taskGitEgressStatus(plan, rfc3339(now)),
  };
}

/** A finished Task: delete it once its TTL has passed, else wake up when it will have. */
function ttlPlan(
  obs: TaskObservation,
  status: TaskStatus,
  now: Date,
  ensure: Desired[] = [],
  events: PlannedEvent[],
): Plan<TaskStatus> {
  const decision = obs.beyondRetention
    ? { action: "delete" as const }
    : ttlDecision(status.completionTime, obs.ttlSeconds, now);
  const meta = obs.task.metadata;
  if (decision.action === "delete") {
    // The uid precondition keeps a re-created Task of the same name safe; the
    // garbage collector removes its Job and ConfigMap.
    return emptyPlan({
      delete: [{
        type: TaskResource,
        namespace: meta.namespace ?? "",
        name: meta.name ?? "",
        uid: meta.uid,
      }],
      events,
    });
  }
  return emptyPlan({
    ensure,
    status,
    events,
    requeueAfterMs: decision.action === "requeue" ? decision.afterMs : undefined,
  });
}
