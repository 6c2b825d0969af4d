// Reconciles one Task: reads current state through ctx.client, builds the
// desired ConfigMap and Job with pure functions, creates (or adopts) them and
// writes the status derived from the Job. A started Task is never rebuilt.
import { agent as agentSchema, type Task, task as taskSchema } from "../../api/v1alpha1/index.ts";
import {
  AgentResource,
  ConfigMapResource,
  ContextResource,
  JobResource,
  KubeTaskConfigResource,
  TaskResource,
} from "../runtime/resources.ts";
import {
  AlreadyExistsError,
  ConflictError,
  type KubeObject,
  type ReconcileContext,
  type Request,
  type ResourceType,
  type Result,
} from "../runtime/types.ts";
import { ContextError, resolveContexts } from "./contexts.ts";
import { agentProblem, buildAgentJob, buildContextConfigMap } from "./job.ts";
import { jobNameFor } from "./names.ts";
import { deriveStatus, isFinished, type Observation, transitionEvent } from "./status.ts";
import { KUBETASK_CONFIG_NAME, ttlDecision, ttlSecondsFrom } from "./ttl.ts";
import { sameJson, STATUS_WRITE_ATTEMPTS } from "../status.ts";

export const DEFAULT_AGENT_NAME = "default";
// Only for a name held by an object we do not own; its deletion also enqueues us.
const NAME_CONFLICT_RETRY_MS = 10_000;

export async function reconcileTask(req: Request, ctx: ReconcileContext): Promise<Result> {
  // A conflict means someone changed the Task meanwhile: start over from a
  // fresh read (creation is idempotent: existing objects are adopted).
  for (let attempt = 1;; attempt++) {
    try {
      return await reconcileOnce(req, ctx);
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= STATUS_WRITE_ATTEMPTS) throw err;
    }
  }
}

async function reconcileOnce(req: Request, ctx: ReconcileContext): Promise<Result> {
  const raw = await ctx.client.get(TaskResource, req.namespace, req.name);
  if (!raw || raw.metadata?.deletionTimestamp) return {};
  const parsed = taskSchema.safeParse(raw);
  if (!parsed.success) {
    ctx.log.warn("ignoring invalid Task", {
      namespace: req.namespace,
      name: req.name,
      error: parsed.error.message,
    });
    return {};
  }
  const task = parsed.data;
  if (isFinished(task.status?.phase)) return await cleanupIfExpired(task, ctx);

  const observation = await observe(task, ctx);
  const status = deriveStatus(task.status, observation, raw.metadata?.generation, ctx.now());
  if (!sameJson(raw.status, status)) {
    await ctx.client.updateStatus(TaskResource, { ...raw, status });
    const event = transitionEvent(task.status, status);
    if (event) await ctx.events.event(raw, event.type, event.reason, event.message);
  }
  if (observation.kind === "nameConflict") return { requeueAfterMs: NAME_CONFLICT_RETRY_MS };
  if (isFinished(status.phase)) return await cleanupIfExpired({ ...task, status }, ctx);
  return {};
}

function ownedBy(obj: KubeObject, task: Task): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((ref) =>
    ref.uid === task.metadata.uid && ref.controller
  );
}

/** What is true now: the Job's state, or why there is no Job (creating it if possible). */
async function observe(task: Task, ctx: ReconcileContext): Promise<Observation> {
  const namespace = task.metadata.namespace ?? "";
  const jobName = task.status?.jobName ?? jobNameFor(task.metadata.name ?? "");
  const existing = await ctx.client.get(JobResource, namespace, jobName);
  if (existing) {
    if (!ownedBy(existing, task)) return { kind: "nameConflict", resource: "Job", name: jobName };
    return { kind: "job", jobName, job: existing };
  }
  if (task.status?.jobName) return { kind: "jobMissing", jobName };
  return await startJob(task, ctx);
}

async function startJob(task: Task, ctx: ReconcileContext): Promise<Observation> {
  const namespace = task.metadata.namespace ?? "";
  const agentName = task.spec.agentRef || DEFAULT_AGENT_NAME;
  const agentRaw = await ctx.client.get(AgentResource, namespace, agentName);
  if (!agentRaw) return { kind: "agentNotFound", agentName, namespace };
  const parsedAgent = agentSchema.safeParse(agentRaw);
  if (!parsedAgent.success) {
    return { kind: "invalid", reason: "InvalidAgent", message: `Agent "${agentName}" is invalid` };
  }
  const agent = parsedAgent.data;
  const problem = agentProblem(task, agent);
  if (problem) return { kind: "invalid", reason: "InvalidAgent", message: problem };

  const workspaceDir = agent.spec.workspaceDir || "/workspace";
  let contexts;
  try {
    contexts = await resolveContexts(
      [...agent.spec.contexts ?? [], ...task.spec.contexts ?? []],
      namespace,
      workspaceDir,
      {
        context: (ns, name) => ctx.client.get(ContextResource, ns, name),
        configMap: (ns, name) => ctx.client.get(ConfigMapResource, ns, name),
      },
    );
  } catch (err) {
    if (err instanceof ContextError) {
      return { kind: "invalid", reason: err.reason, message: err.message };
    }
    throw err;
  }

  const configMap = buildContextConfigMap(task, agent, contexts) as KubeObject;
  const cmResult = await createOrAdopt(ConfigMapResource, configMap, task, ctx);
  if (cmResult === "conflict") {
    return { kind: "nameConflict", resource: "ConfigMap", name: configMap.metadata?.name ?? "" };
  }
  if (
    !sameJson(cmResult.data, configMap.data) || !sameJson(cmResult.binaryData, configMap.binaryData)
  ) {
    // Left over from an attempt that never created the Job: bring it up to date.
    await ctx.client.patch(ConfigMapResource, namespace, configMap.metadata?.name ?? "", {
      data: withRemovals(cmResult.data, configMap.data),
      binaryData: withRemovals(cmResult.binaryData, configMap.binaryData),
    });
  }

  const job = buildAgentJob(task, agent, contexts) as KubeObject;
  const jobName = job.metadata?.name ?? "";
  const jobResult = await createOrAdopt(JobResource, job, task, ctx);
  if (jobResult === "conflict") return { kind: "nameConflict", resource: "Job", name: jobName };
  ctx.log.info("job created", { namespace, task: task.metadata.name, job: jobName });
  return { kind: "job", jobName, job: jobResult };
}

/** Merge-patch map that sets `want` and removes keys only `have` has. */
function withRemovals(
  have: Record<string, string> | undefined,
  want: Record<string, string> | undefined,
) {
  const patch: Record<string, string | null> = { ...want };
  for (const key of Object.keys(have ?? {})) if (!(key in patch)) patch[key] = null;
  return patch;
}

/**
 * Creates `obj`; if the name is taken, an object owned by this Task (left by
 * an earlier attempt or a restarted operator) is adopted. Create-first: the
 * caller has just seen the Job absent, so a read before it would be a repeat.
 */
async function createOrAdopt(
  type: ResourceType,
  obj: KubeObject,
  task: Task,
  ctx: ReconcileContext,
): Promise<KubeObject | "conflict"> {
  try {
    return await ctx.client.create(type, obj);
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
    const existing = await ctx.client.get(
      type,
      obj.metadata?.namespace ?? "",
      obj.metadata?.name ?? "",
    );
    if (!existing) throw err; // deleted meanwhile: the retry creates it
    return ownedBy(existing, task) ? existing : "conflict";
  }
}

/** Deletes a finished Task once its TTL has passed; else wakes up when it will have. */
async function cleanupIfExpired(task: Task, ctx: ReconcileContext): Promise<Result> {
  const namespace = task.metadata.namespace ?? "";
  const config = await ctx.client.get(KubeTaskConfigResource, namespace, KUBETASK_CONFIG_NAME);
  const decision = ttlDecision(task.status?.completionTime, ttlSecondsFrom(config), ctx.now());
  if (decision.action === "requeue") return { requeueAfterMs: decision.afterMs };
  if (decision.action === "delete") {
    ctx.log.info("deleting finished Task after its TTL", { namespace, name: task.metadata.name });
    // The uid precondition keeps a re-created Task of the same name safe.
    await ctx.client.delete(TaskResource, namespace, task.metadata.name ?? "", {
      uid: task.metadata.uid,
    });
  }
  return {};
}
