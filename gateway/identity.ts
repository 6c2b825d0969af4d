// Who is calling the gateway: a projected ServiceAccount token, checked by
// the apiserver (TokenReview, for the gateway's audience only), and then the
// chain of controller owners from the pod it is bound to up to a running
// Task: pod (uid as bound) -> its Job (uid) -> that Job's Task (uid, and the
// Task's status names the Job) -> the Task's Agent (the pod carries its uid)
// -> the Agent's modelProvider. Labels are never trusted: anyone who may
// create pods can write them. Every refusal is a line in the log with its
// reason (never the token) and a 401 (who you are) or 403 (what you asked).
import { isFinishedPhase } from "../controllers/status.ts";
import { AgentResource, TaskResource } from "../controllers/kinds.ts";
import { JobResource, PodResource } from "../controllers/runtime/resources.ts";
import type { KubeClient, KubeObject, Logger } from "../controllers/runtime/types.ts";
import type { ApiTransport } from "../controllers/runtime/transport.ts";
import { reviewToken } from "../controllers/runtime/reviews.ts";
import { AGENT_UID_LABEL, agentSpec, type Task, type TaskUsage } from "../api/v1alpha1/index.ts";
import { effectiveBudget } from "../controllers/task/budget.ts";
import { agentNameOf } from "../controllers/task/names.ts";
import { parseUSD } from "./money.ts";
import type { ProviderCatalog } from "./providers.ts";
import { readNamespaceBudget } from "./namespace_budgets.ts";
import type { Identified, Usage } from "./types.ts";

const POD_NAME = "authentication.kubernetes.io/pod-name";
const POD_UID = "authentication.kubernetes.io/pod-uid";
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$/;

/** A decision is kept this long per token, counted from before its first read: a Task's end
 *  is seen within it however slowly the apiserver answered. */
export const IDENTITY_TTL_MS = 5_000;
const MAX_REMEMBERED = 4096;

export interface IdentityOptions {
  transport: ApiTransport;
  client: KubeClient;
  providers: ProviderCatalog;
  audience: string;
  log: Logger;
  now?: () => number;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

class Refused extends Error {
  constructor(readonly status: 401 | 403, reason: string) {
    super(reason);
  }
}

/** The controller owner of `obj` if it is of `kind` (apiVersion `apiVersion`). */
function controllerOf(obj: KubeObject, apiVersion: string, kind: string) {
  const owner = (obj.metadata?.ownerReferences ?? []).find((o: KubeObject) => o.controller);
  return owner?.apiVersion === apiVersion && owner?.kind === kind ? owner : undefined;
}

/** status.usage as the gateway wrote it, in its own units (a restart goes on from it). */
export function usageFromStatus(usage: TaskUsage | undefined): Usage | undefined {
  if (usage?.source !== "Gateway") return undefined;
  return {
    inputTokens: usage.inputTokens ?? 0,
    outputTokens: usage.outputTokens ?? 0,
    cacheReadTokens: usage.cacheReadTokens ?? 0,
    cacheWriteTokens: usage.cacheWriteTokens ?? 0,
    costNanoUSD: usage.costUSD ? parseUSD(usage.costUSD) : 0,
    requests: usage.requests ?? 0,
    ...(usage.model ? { model: usage.model } : {}),
  };
}

export class AgentIdentities {
  private readonly remembered = new Map<string, { result: Identified; until: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: IdentityOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The Task behind `token`, if it may call `providerInPath` now. */
  async identify(token: string, providerInPath: string): Promise<Identified> {
    const key = `${await sha256(token)} ${providerInPath}`;
    const known = this.remembered.get(key);
    const asked = this.now();
    if (known && known.until > asked) return known.result;
    let result: Identified;
    try {
      result = { ok: true, identity: await this.resolve(token, providerInPath) };
    } catch (err) {
      if (!(err instanceof Refused)) throw err; // the apiserver could not answer: not cached
      result = { ok: false, status: err.status, reason: err.message };
      this.opts.log.warn("gateway refused a caller", { status: err.status, reason: err.message });
    }
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
    // From `asked`, not now: what the reads saw may be as old as the first of them.
    this.remembered.set(key, { result, until: asked + IDENTITY_TTL_MS });
    return result;
  }

  private async resolve(token: string, providerInPath: string) {
    const { client, audience } = this.opts;
    const review = await reviewToken(this.opts.transport, token, [audience]);
    if (!review.authenticated) {
      throw new Refused(
        401,
        `token not accepted for audience ${audience}: ${review.error ?? "unauthenticated"}`,
      );
    }
    if (review.audiences && !review.audiences.includes(audience)) {
      throw new Refused(401, `token is not for audience ${audience}`);
    }
    const sa = SERVICE_ACCOUNT_USER.exec(review.user.username);
    const podName = review.user.extra?.[POD_NAME]?.[0];
    const podUid = review.user.extra?.[POD_UID]?.[0];
    if (!sa || !podName || !podUid) {
      throw new Refused(
        401,
        `token of ${review.user.username} is not a ServiceAccount token bound to a pod`,
      );
    }
    const [, namespace, serviceAccount] = sa;
    const where = `${namespace}/${podName}`;
    const pod = await client.get(PodResource, namespace, podName);
    if (!pod || pod.metadata?.uid !== podUid) {
      throw new Refused(401, `pod ${where} the token is bound to no longer exists`);
    }
    if (pod.metadata?.deletionTimestamp || isFinishedPod(pod)) {
      throw new Refused(401, `pod ${where} has ended`);
    }
    if ((pod.spec?.serviceAccountName ?? "default") !== serviceAccount) {
      throw new Refused(401, `pod ${where} does not run as ServiceAccount ${serviceAccount}`);
    }
    const jobRef = controllerOf(pod, "batch/v1", "Job");
    const job = jobRef && await client.get(JobResource, namespace, jobRef.name);
    if (!job || job.metadata?.uid !== jobRef.uid) {
      throw new Refused(401, `pod ${where} is no Task's: no Job of ours controls it`);
    }
    const taskRef = controllerOf(job, TaskResource.apiVersion, "Task");
    const task = taskRef &&
      (await client.get(TaskResource, namespace, taskRef.name)) as Task | undefined;
    if (
      !task || task.metadata?.uid !== taskRef.uid || task.status?.jobName !== job.metadata?.name
    ) {
      throw new Refused(
        401,
        `pod ${where} is no Task's: Job ${job.metadata?.name} is not a Task's own`,
      );
    }
    const taskName = task.metadata.name ?? "";
    if (isFinishedPhase(task.status?.phase)) {
      throw new Refused(401, `Task ${namespace}/${taskName} has finished (${task.status?.phase})`);
    }
    const agentName = agentNameOf(task.spec);
    const agent = await client.get(AgentResource, namespace, agentName);
    // The operator stamps the Agent's uid on the pod; a hand-made namesake Agent differs.
    if (!agent || agent.metadata?.uid !== pod.metadata?.labels?.[AGENT_UID_LABEL]) {
      throw new Refused(
        403,
        `Task ${namespace}/${taskName}: its Agent ${agentName} is not the one its pod runs`,
      );
    }
    // Parsed as the operator parses it: the same budget rule, nothing taken unchecked.
    const spec = agentSpec.safeParse(agent.spec);
    if (!spec.success) throw new Refused(403, `Agent ${namespace}/${agentName} is invalid`);
    const providerName = spec.data.modelProvider;
    if (!providerName) {
      throw new Refused(403, `Agent ${namespace}/${agentName} names no modelProvider`);
    }
    if (providerName !== providerInPath) {
      throw new Refused(
        403,
        `Agent ${namespace}/${agentName} uses provider ${providerName}, not ${providerInPath}`,
      );
    }
    const provider = await this.opts.providers.get(providerName);
    if (!provider.ok) throw new Refused(403, provider.reason);
    const budget = effectiveBudget(task, { spec: spec.data });
    const usageSoFar = usageFromStatus(task.status?.usage);
    // The platform's limit on the whole namespace, and what its status counted so far.
    const namespaceBudget = await readNamespaceBudget(client, namespace);
    return {
      namespace,
      task: taskName,
      taskUid: task.metadata.uid ?? "",
      agent: agentName,
      pod: podName,
      provider: provider.provider,
      ...(budget ? { budget } : {}),
      ...(usageSoFar ? { usageSoFar } : {}),
      ...(namespaceBudget ? { namespaceBudget } : {}),
    };
  }
}

function isFinishedPod(pod: KubeObject): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}
