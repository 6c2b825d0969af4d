// Kueue (sigs.k8s.io/kueue) admitting an Agent's Jobs: an Agent with a
// queueName gets its Jobs created suspended with Kueue's queue label (job.ts
// kueueJobParts); Kueue creates a Workload for each, and unsuspends the Job
// once the Workload is admitted to its ClusterQueue's quota. What the Task's
// status says meanwhile, and what happens on a stop or a preemption, is
// decided here from the Job and its Workload (cached: the operator watches
// Workloads only when started with --kueue).
//
// - Suspended, not admitted: Queued, reason KueueAdmissionPending, with the
//   Workload's own message (which ClusterQueue, what quota is missing). No
//   timeout runs: the Job has no startTime while suspended, and the startup
//   timeout of a Kueue Job counts from its admission (startup.ts).
// - Admitted: Kueue unsuspends the Job; it runs as any other (Running...).
// - Preempted (Kueue suspends an admitted Job again): if the agent had not
//   started (the Task never was Running) the Task is Queued again, reason
//   Preempted, and Kueue re-admits it later. If it had started, the agent may
//   have pushed part of its work: it is never restarted silently. The Task
//   fails with reason Preempted and its Job is deleted (a suspended Job has no
//   pod left; deleting it deletes its Workload, so Kueue never admits it again).
// - A stop while the Job waits in Kueue (or before its agent started) deletes
//   the Job for the same reason: suspending it would not do, Kueue unsuspends
//   what it admits.
import type { KubeObject, Request, ResourceType } from "../runtime/types.ts";
import type { CacheReader } from "../runtime/types.ts";
import { controllerOf } from "../runtime/owners.ts";
import { JobResource } from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import type { Agent } from "../../api/v1alpha1/index.ts";

export const WorkloadResource: ResourceType = {
  apiVersion: "kueue.x-k8s.io/v1beta2",
  kind: "Workload",
  plural: "workloads",
  namespaced: true,
};

/** Kueue's labels on a Job (the Job alone: Kueue reads them there). */
export const KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";
export const KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class";

/**
 * An Agent with a queueName: its Jobs are created suspended with Kueue's queue
 * label (and priority label), so that Kueue, not the Job controller, decides
 * when their pod is created (it unsuspends the Job on admission).
 */
export function kueueJobParts(agent: Agent): { labels: Record<string, string>; suspend: boolean } {
  const queue = agent.spec.queueName;
  if (!queue) return { labels: {}, suspend: false };
  const priority = agent.spec.priorityClassName;
  return {
    labels: {
      [KUEUE_QUEUE_LABEL]: queue,
      ...(priority ? { [KUEUE_PRIORITY_LABEL]: priority } : {}),
    },
    suspend: true,
  };
}

/** The LocalQueue a Job waits in, if Kueue manages it. */
export function kueueQueueOf(job: KubeObject | undefined): string | undefined {
  return job?.metadata?.labels?.[KUEUE_QUEUE_LABEL] || undefined;
}

/** A Job Kueue has not admitted (or has taken back): suspended, with the queue label. */
export function kueueSuspended(job: KubeObject | undefined): boolean {
  return !!kueueQueueOf(job) && job?.spec?.suspend === true;
}

interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const conditionOf = (wl: KubeObject | undefined, type: string): WorkloadCondition | undefined =>
  (wl?.status?.conditions as WorkloadCondition[] | undefined)?.find((c) => c.type === type);

/** What the Workload cache keeps: identity, owners and the conditions' words. */
export function workloadForCache(wl: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, ownerReferences, creationTimestamp } =
    wl.metadata ?? {};
  const conditions = ((wl.status?.conditions ?? []) as WorkloadCondition[]).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    // Kueue's messages are a sentence or two; a bound keeps the cache small whatever it writes.
    ...(c.message ? { message: String(c.message).slice(0, 512) } : {}),
  }));
  return {
    apiVersion: wl.apiVersion,
    kind: wl.kind,
    metadata: { name, namespace, uid, resourceVersion, ownerReferences, creationTimestamp },
    spec: { queueName: wl.spec?.queueName },
    status: { conditions },
  };
}

/** A Workload changed: the Task whose Job owns it. */
export function mapWorkloadToTask(wl: KubeObject, cache: CacheReader): Request[] {
  const namespace = wl.metadata?.namespace ?? "";
  const jobRef = controllerOf(wl, JobResource);
  if (!jobRef) return [];
  const job = cache.get(JobResource, namespace, jobRef.name);
  const taskRef = job && controllerOf(job, TaskResource);
  return taskRef ? [{ kind: "Task", namespace, name: taskRef.name }] : [];
}

/** Whether Kueue took back an admission it had given (preemption, or another eviction). */
export function workloadEvicted(wl: KubeObject | undefined): WorkloadCondition | undefined {
  const preempted = conditionOf(wl, "Preempted");
  if (preempted?.status === "True") return preempted;
  const evicted = conditionOf(wl, "Evicted");
  return evicted?.status === "True" ? evicted : undefined;
}

/**
 * Why the Workload waits, in Kueue's words: its QuotaReserved condition's
 * message while it has no quota (e.g. "couldn't assign flavors to pod set
 * main: insufficient unused quota for cpu in flavor default, 1 more needed"),
 * else its Admitted condition's (admission checks).
 */
export function workloadMessage(wl: KubeObject | undefined, queue: string): string {
  if (!wl) {
    return `waiting for Kueue to create the Job's Workload in LocalQueue "${queue}" ` +
      "(is Kueue running?)";
  }
  const reserved = conditionOf(wl, "QuotaReserved");
  const admitted = conditionOf(wl, "Admitted");
  const words = (reserved?.status !== "True" ? reserved?.message : undefined) ??
    (admitted?.status !== "True" ? admitted?.message : undefined) ??
    "waiting for Kueue to admit it";
  return `Kueue Workload "${wl.metadata?.name}" (LocalQueue "${queue}"): ${words}`;
}

/** What Kueue holds of a Job that is not running, as the Task's status will say. */
export type KueueHold =
  /** Waiting for admission (again, after a preemption before the agent started). */
  | { kind: "pending"; reason: "KueueAdmissionPending" | "Preempted"; message: string }
  /** Preempted after the agent started: the Task fails, the Job is deleted. */
  | { kind: "preemptedAfterStart"; message: string };

/**
 * The hold of a suspended Kueue Job, or undefined when Kueue does not hold it.
 * `agentStarted`: the Task was Running (its agent had started) before.
 */
export function kueueHold(
  job: KubeObject | undefined,
  workload: KubeObject | undefined,
  agentStarted: boolean,
): KueueHold | undefined {
  const queue = kueueQueueOf(job);
  if (!queue || !kueueSuspended(job)) return undefined;
  const evicted = workloadEvicted(workload);
  if (agentStarted) {
    const why = evicted?.message ?? "Kueue suspended the Job";
    return {
      kind: "preemptedAfterStart",
      message: `Kueue took the Job's admission back after the agent had started (${why}); ` +
        "the agent may have pushed part of its work, so it is not restarted",
    };
  }
  if (evicted) {
    return {
      kind: "pending",
      reason: "Preempted",
      message: `${evicted.message ?? "preempted"}; the agent had not started: ` +
        workloadMessage(workload, queue),
    };
  }
  return {
    kind: "pending",
    reason: "KueueAdmissionPending",
    message: workloadMessage(workload, queue),
  };
}
