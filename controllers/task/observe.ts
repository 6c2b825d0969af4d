// What is true now for one Task: facts, no verdicts. observeTask reads the
// informer caches, plus two live reads that only confirm a fact: a Job our
// status names but the cache lacks (a Task is failed with JobNotFound only
// once the apiserver confirms it is gone), and, for a Task that names no
// Agent and has no Job, an Agent "default" the cache lacks (it runs on the
// built-in Agent only once the apiserver confirms there is none). It reads no
// clock, decides nothing and changes nothing (the slot ledger included).
//
// observeLive makes the other live reads, only those the plan's decisions
// call for (decide in plan.ts), so that a Task waiting for a slot or a
// running agent costs no request:
// - for a Task that may start: its Agent's and its own Contexts (a Context
//   the cache does not have yet, one created just before its Task; a user's
//   ConfigMap that a Context names: we do not cache other people's
//   ConfigMaps), and the large text the caches leave out (a long description,
//   long inline Context content: large_text.ts), read by name once;
// - the pods of a Job that must stop or has just finished, listed by the
//   Job's controller-uid label (for the stop and the agent's result: the pod
//   cache keeps only what says whether the agent started, pod_progress.ts).
// One look-up is not of the apiserver: a Restricted Agent's Task about to
// start resolves its Git contexts' host names (DNS), for its own egress policy
// (egress/git.ts).
import {
  type Agent,
  agent as agentSchema,
  DEFAULT_AGENT_IMAGE,
  describeIssues,
  type EgressMode,
  gitHostsAutomatic,
  type NamespaceBudget,
  type Task,
  task as taskSchema,
} from "../../api/v1alpha1/index.ts";
import { isControlledBy, ownerIndexKey } from "../runtime/owners.ts";
import {
  ConfigMapResource,
  EventResource,
  JobResource,
  PodResource,
} from "../runtime/resources.ts";
import {
  AgentResource,
  ContextGrantResource,
  ContextResource,
  KubeTaskConfigResource,
  NamespaceBudgetResource,
  TaskResource,
} from "../kinds.ts";
import {
  type KubeObject,
  OWNER_INDEX,
  type ReconcileContext,
  type Request,
} from "../runtime/types.ts";
import { ContextError, resolveContexts, type ResolvedContext } from "./contexts.ts";
import { observeSlots, SlotLedger, type Slots } from "./capacity.ts";
import {
  agentNameOf,
  DEFAULT_AGENT_NAME,
  jobNameFor,
  jobPodsSelector,
  KUBETASK_CONFIG_NAME,
} from "./names.ts";
import { jobPhase, type JobView } from "./job_phase.ts";
import type { Observation } from "./status.ts";
import { JOB_UID_INDEX, jobUidKey, latestFailedCreate } from "./failed_create.ts";
import { beyondLimit, maxFinishedFrom, ttlSecondsFrom } from "./retention.ts";
import { isFinishedPhase } from "../status.ts";
import { effectiveEgressMode, restrictedPolicyInForce } from "../egress/mode.ts";
import { gitDestination, type HostResolver, isIpLiteral, type Resolution } from "../egress/git.ts";
import { resolveHost as systemResolver } from "../egress/resolve.ts";
import { fullContext, withDescription } from "./large_text.ts";
import { kueueQueueOf, WorkloadResource } from "./kueue.ts";
import { parseNamespaceBudget } from "./namespace_budget.ts";

/** Why a Job cannot be started (yet), as the Task's condition will say. */
export type Blocked = Extract<
  Observation,
  { kind: "agentNotFound" | "invalid" | "queued" | "budgetExhausted" }
>;

/** The Agent a Task without a Job would run with, as found. */
export type AgentFact =
  | { kind: "missing"; agentName: string }
  /** It fails its schema. */
  | { kind: "invalid"; agentName: string }
  /** `builtIn`: no Agent was named and none is called "default": the built-in one runs it. */
  | { kind: "found"; agent: Agent; builtIn: boolean };

/** A Context that cannot be mounted (missing, not granted, too large...): why. */
export interface ContextProblem {
  reason: string;
  message: string;
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
  /** The Job's pods as cached (trimmed: pod_progress.ts podForCache): has the agent started? */
  cachedPods?: KubeObject[];
  /** A Kueue Job's Workload, as cached (only with --kueue: the operator watches Workloads). */
  workload?: KubeObject;
  /** The Job's pods (observeLive), read only to stop the agent or when its Job has just finished. */
  pods?: KubeObject[];
  /** A Job of that name that this Task does not control. */
  foreignJob?: boolean;
  /** status.jobName is set but the apiserver has no such Job. */
  jobGone?: boolean;
  /** Without a Job: the Agent it would run with. */
  agent?: AgentFact;
  /** Without a Job, for an Agent with a modelProvider: the namespace's NamespaceBudget, if any. */
  namespaceBudget?: NamespaceBudget;
  /** Without a Job, under its Agent's maxConcurrentTasks: who holds the slots, who waits. */
  slots?: Slots;
  /** The Contexts resolved (observeLive), once the plan lets the Task start; or why not. */
  contexts?: ResolvedContext[] | ContextProblem;
  /**
   * A Restricted Agent's Task about to start, with Git contexts: how their host names resolved
   * (DNS, observeLive, before the Job exists), by name; IP literals are not looked up.
   */
  gitHosts?: Map<string, Resolution>;
  ttlSeconds: number;
  /** The namespace's KubeTaskConfig "default", if any (it may set the default egress mode). */
  config?: KubeObject;
  /** Finished and among the oldest beyond the namespace's maxFinishedTasks. */
  beyondRetention?: boolean;
}

/** The live reads the plan's decisions call for (plan.ts decide). */
export interface LiveReads {
  pods: boolean;
  contexts: boolean;
}

export async function observeTask(
  req: Request,
  ctx: ReconcileContext,
  ledger: SlotLedger = new SlotLedger(),
  kueue = false,
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
    const podCreateFailure = jobPhase(job as JobView) === "Pending"
      ? latestFailedCreate(ctx.cache.byIndex(EventResource, JOB_UID_INDEX, jobUidKey(job)))
      : undefined;
    const cachedPods = ctx.cache.byIndex(PodResource, OWNER_INDEX, ownerIndexKey(job))
      .filter((pod) => isControlledBy(pod, job!));
    const workload = kueue && kueueQueueOf(job) && !isFinishedPhase(jobPhase(job as JobView))
      ? ctx.cache.byIndex(WorkloadResource, OWNER_INDEX, ownerIndexKey(job))
        .find((wl) => isControlledBy(wl, job!))
      : undefined;
    return {
      ...base,
      job: job as JobView,
      cachedPods,
      ...(workload ? { workload } : {}),
      ...(podCreateFailure ? { podCreateFailure } : {}),
    };
  }
  const agent = await observeAgent(task, ctx);
  const limit = agent.kind === "found" ? agent.agent.spec.maxConcurrentTasks ?? 0 : 0;
  const slots = limit > 0 ? observeSlots(raw, limit, ctx.cache, ledger) : undefined;
  // Only calls through the gateway are counted, so only they are held by the namespace's budget.
  const namespaceBudget = agent.kind === "found" && agent.agent.spec.modelProvider
    ? parseNamespaceBudget(ctx.cache.get(NamespaceBudgetResource, "", namespace))
    : undefined;
  return {
    ...base,
    agent,
    ...(slots ? { slots } : {}),
    ...(namespaceBudget ? { namespaceBudget } : {}),
  };
}

/** What observing a Task needs of the operator's settings. */
export interface ObserveSettings {
  defaultEgress?: EgressMode;
  resolveHost?: HostResolver;
}

/** `obs` with the live reads `reads` asks for made. */
export async function observeLive(
  obs: TaskObservation,
  reads: LiveReads,
  ctx: ReconcileContext,
  settings: ObserveSettings = {},
): Promise<TaskObservation | undefined> {
  const namespace = obs.task.metadata.namespace ?? "";
  if (reads.pods && obs.job) {
    // Live: the pod cache leaves out the agent's report and the stop's fields.
    const pods = await ctx.live.list(PodResource, namespace, {
      labelSelector: jobPodsSelector(obs.job),
    });
    return { ...obs, pods };
  }
  if (reads.contexts && obs.agent?.kind === "found") {
    const { agent } = obs.agent;
    // task.md is built from this observation: with the description the cache left out.
    const task = await withDescription(obs.task, obs.raw, ctx.live);
    if (!task) return undefined; // gone from the apiserver: nothing to start
    const contexts = await observeContexts(task, agent, ctx);
    const mode = effectiveEgressMode(agent.spec, obs.config, settings.defaultEgress);
    // Looked up only once the pod may start (not while it waits for the Agent's policy).
    const gitHosts = Array.isArray(contexts) && mode === "Restricted" &&
        restrictedPolicyInForce(agent) && gitHostsAutomatic(agent.spec.egress)
      ? await resolveGitHosts(contexts, settings.resolveHost ?? systemResolver)
      : undefined;
    return { ...obs, task, contexts, ...(gitHosts ? { gitHosts } : {}) };
  }
  return obs;
}

/** The Git contexts' host names, each resolved once; undefined without Git contexts. */
async function resolveGitHosts(
  contexts: ResolvedContext[],
  resolve: HostResolver,
): Promise<Map<string, Resolution> | undefined> {
  const git = contexts.flatMap((c) => c.kind === "git" ? [c.git.repository] : []);
  if (git.length === 0) return undefined;
  const hosts = new Set(
    git.map((r) => gitDestination(r)?.host).filter((h): h is string => !!h && !isIpLiteral(h)),
  );
  const answers = await Promise.all(
    [...hosts].map(async (host): Promise<[string, Resolution]> => [
      host,
      await resolve(host).catch((err) => ({ error: String(err?.message ?? err).slice(0, 200) })),
    ]),
  );
  return new Map(answers);
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

async function observeAgent(task: Task, ctx: ReconcileContext): Promise<AgentFact> {
  const namespace = task.metadata.namespace ?? "";
  const agentName = agentNameOf(task.spec);
  // A Task that names no Agent falls back to the built-in one; one that names a
  // missing Agent waits for it. Before falling back, the apiserver confirms
  // there is no Agent "default": one applied with the Task (the same kubectl
  // apply) may not be cached yet, and the Task would run on the wrong image,
  // node and credentials, never to be rebuilt.
  const named = ctx.cache.get(AgentResource, namespace, agentName) ??
    (task.spec.agentRef ? undefined : await ctx.live.get(AgentResource, namespace, agentName));
  const builtIn = !named && !task.spec.agentRef;
  const agentRaw = named ?? (builtIn ? builtInAgent(namespace) : undefined);
  if (!agentRaw) return { kind: "missing", agentName };
  const parsed = agentSchema.safeParse(agentRaw);
  if (!parsed.success) return { kind: "invalid", agentName };
  return { kind: "found", agent: parsed.data, builtIn };
}

async function observeContexts(
  task: Task,
  agent: Agent,
  ctx: ReconcileContext,
): Promise<ResolvedContext[] | ContextProblem> {
  const namespace = task.metadata.namespace ?? "";
  try {
    return await resolveContexts(
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
  } catch (err) {
    if (err instanceof ContextError) return { reason: err.reason, message: err.message };
    throw err;
  }
}
