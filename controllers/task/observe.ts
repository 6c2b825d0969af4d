// What is true now for one Task, read from the informer caches. Five reads
// are live on purpose: a user's ConfigMap that a Context names (we do not
// cache other people's ConfigMaps); a Context the cache does not have yet (one
// created just before its Task); a Job our status names but the cache lacks
// (a Task is failed with JobNotFound only once the apiserver confirms it); the
// pods of a Job that is being stopped or has just finished, listed by the
// Job's controller-uid label (for the agent's result and the stop); and the
// large text the caches leave out (a long description, long inline Context
// content: large_text.ts), read by name once, when the Task starts.
import {
  type Agent,
  agent as agentSchema,
  DEFAULT_AGENT_IMAGE,
  describeIssues,
  type Task,
  task as taskSchema,
} from "../../api/v1alpha1/index.ts";
import { isControlledBy } from "../runtime/owners.ts";
import {
  AgentResource,
  ConfigMapResource,
  ContextGrantResource,
  ContextResource,
  EventResource,
  JobResource,
  KubeTaskConfigResource,
  PodResource,
  TaskResource,
} from "../runtime/resources.ts";
import type { KubeObject, ReconcileContext, Request } from "../runtime/types.ts";
import { ContextError, resolveContexts, type ResolvedContext } from "./contexts.ts";
import { agentProblem } from "./job.ts";
import { admit, SlotLedger } from "./capacity.ts";
import { agentNameOf, DEFAULT_AGENT_NAME, jobNameFor } from "./names.ts";
import { jobPhase, type JobView, type Observation } from "./status.ts";
import { JOB_UID_INDEX, jobUidKey, latestFailedCreate } from "./pod_creation.ts";
import { stopReason } from "./stop.ts";
import { KUBETASK_CONFIG_NAME, ttlSecondsFrom } from "./ttl.ts";
import { beyondLimit, maxFinishedFrom } from "./retention.ts";
import { isFinishedPhase } from "../status.ts";
import { fullContext, withDescription } from "./large_text.ts";

/** Why a Job cannot be started (yet), as the Task's condition will say. */
export type Blocked = Extract<Observation, { kind: "agentNotFound" | "invalid" | "queued" }>;

/** What the Task needs to start its Job. */
export interface Start {
  agent: Agent;
  contexts: ResolvedContext[];
  /** No Agent was named and none is called "default": the built-in one runs it. */
  builtInAgent?: boolean;
}

export interface TaskObservation {
  /** The Task as cached (its resourceVersion guards the status write). */
  raw: KubeObject;
  task: Task;
  /** The spec fails validation (a CRD without its rules, or an older one): why. */
  invalidSpec?: string;
  jobName: string;
  /** Our Job, if it exists. */
  job?: JobView;
  /** Why the cluster will not create our Job's pod (its newest FailedCreate Event). */
  podCreateFailure?: string;
  /** The Job's pods, read only to stop a running agent or when its Job has just finished. */
  pods?: KubeObject[];
  /** A Job of that name that this Task does not control. */
  foreignJob?: boolean;
  /** status.jobName is set but the apiserver has no such Job. */
  jobGone?: boolean;
  /** Without a Job: what starting it needs, or why it cannot start. */
  start?: Start | Blocked;
  ttlSeconds: number;
  /** The namespace's KubeTaskConfig "default", if any (it may set the default egress mode). */
  config?: KubeObject;
  /** Finished and among the oldest beyond the namespace's maxFinishedTasks. */
  beyondRetention?: boolean;
}

export async function observeTask(
  req: Request,
  ctx: ReconcileContext,
  ledger: SlotLedger = new SlotLedger(),
): Promise<TaskObservation | undefined> {
  const raw = ctx.cache.get(TaskResource, req.namespace, req.name);
  if (!raw || raw.metadata?.deletionTimestamp) return undefined;
  const namespace = req.namespace;
  const config = ctx.cache.get(KubeTaskConfigResource, namespace, KUBETASK_CONFIG_NAME);
  const ttlSeconds = ttlSecondsFrom(config);
  const parsed = taskSchema.safeParse(raw);
  if (!parsed.success) {
    // Not silently dropped: the Task fails with the fields that are wrong.
    const invalidSpec = describeIssues(parsed.error);
    const task = { metadata: raw.metadata ?? {}, spec: {}, status: raw.status } as Task;
    return { raw, task, invalidSpec, jobName: jobNameFor(req.name), ttlSeconds };
  }
  const task = parsed.data;
  const jobName = task.status?.jobName ?? jobNameFor(req.name);
  const base = { raw, task, jobName, ttlSeconds, ...(config ? { config } : {}) };
  if (isFinishedPhase(task.status?.phase)) {
    const excess = beyondLimit(
      () => ctx.cache.list(TaskResource, namespace),
      maxFinishedFrom(config),
    );
    const beyondRetention = excess.some((t) => t.metadata?.uid === raw.metadata?.uid);
    return beyondRetention ? { ...base, beyondRetention } : base;
  }

  let job: KubeObject | undefined = ctx.cache.get(JobResource, namespace, jobName);
  if (!job && task.status?.jobName) {
    // We created it: before calling it gone, make sure the cache is not just behind.
    job = await ctx.live.get(JobResource, namespace, jobName);
    if (!job) return { ...base, jobGone: true };
  }
  if (job) {
    if (!isControlledBy(job, raw)) return { ...base, foreignJob: true };
    const phase = jobPhase(job as JobView);
    const podCreateFailure = phase === "Pending"
      ? latestFailedCreate(ctx.cache.byIndex(EventResource, JOB_UID_INDEX, jobUidKey(job)))
      : undefined;
    // Pods are read (live: we do not cache pods) only to stop a running agent
    // and, once, to collect what a finished agent reported.
    const finishedNow = isFinishedPhase(phase);
    const pods = finishedNow || (phase === "Running" && stopReason(raw, job, ctx.now()))
      ? await ctx.live.list(PodResource, namespace, {
        labelSelector: `batch.kubernetes.io/controller-uid=${job.metadata?.uid ?? ""}`,
      })
      : undefined;
    return {
      ...base,
      job: job as JobView,
      ...(podCreateFailure ? { podCreateFailure } : {}),
      ...(pods ? { pods } : {}),
    };
  }
  const start = await observeStart(task, raw, ctx, ledger);
  if (!("agent" in start)) return { ...base, start };
  // task.md is built from this observation: with the description the cache left out.
  const full = await withDescription(task, raw, ctx.live);
  return full ? { ...base, task: full, start } : undefined;
}

/**
 * The spec's built-in Agent: the default image with the namespace's default
 * ServiceAccount, without its token. Nobody chose to give that account's
 * rights to an agent; an Agent admin who wants to, writes an Agent.
 */
function builtInAgent(namespace: string): KubeObject {
  return {
    metadata: { name: DEFAULT_AGENT_NAME, namespace },
    spec: {
      agentImage: DEFAULT_AGENT_IMAGE,
      serviceAccountName: "default",
      podSpec: { automountServiceAccountToken: false },
    },
  };
}

async function observeStart(
  task: Task,
  raw: KubeObject,
  ctx: ReconcileContext,
  ledger: SlotLedger,
): Promise<Start | Blocked> {
  const namespace = task.metadata.namespace ?? "";
  const agentName = agentNameOf(task.spec);
  const named = ctx.cache.get(AgentResource, namespace, agentName);
  // A Task that names no Agent falls back to the built-in one; one that names a
  // missing Agent waits for it.
  const fallback = !named && !task.spec.agentRef;
  const agentRaw = named ?? (fallback ? builtInAgent(namespace) : undefined);
  if (!agentRaw) {
    return { kind: "agentNotFound", agentName, namespace };
  }
  const parsedAgent = agentSchema.safeParse(agentRaw);
  if (!parsedAgent.success) {
    return { kind: "invalid", reason: "InvalidAgent", message: `Agent "${agentName}" is invalid` };
  }
  const agent = parsedAgent.data;
  const problem = agentProblem(task, agent);
  if (problem) return { kind: "invalid", reason: "InvalidAgent", message: problem };
  const limit = agent.spec.maxConcurrentTasks ?? 0;
  if (limit > 0 && !admit(raw, limit, ctx.cache, ledger).admitted) {
    return { kind: "queued", agentName, limit };
  }
  try {
    const contexts = await resolveContexts(
      [...agent.spec.contexts ?? [], ...task.spec.contexts ?? []],
      namespace,
      agent.spec.workspaceDir,
      {
        // A Context created just before its Task may not be cached yet: ask the
        // apiserver before failing the Task for it. Large content is read live too.
        context: (ns, name) =>
          fullContext(ctx.cache.get(ContextResource, ns, name), ctx.live, ns, name),
        configMap: (ns, name) => ctx.live.get(ConfigMapResource, ns, name),
        grants: (ns) => ctx.cache.list(ContextGrantResource, ns),
      },
    );
    return { agent, contexts, ...(fallback ? { builtInAgent: true } : {}) };
  } catch (err) {
    if (err instanceof ContextError) {
      return { kind: "invalid", reason: err.reason, message: err.message };
    }
    throw err;
  }
}
