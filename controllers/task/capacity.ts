// Agent.spec.maxConcurrentTasks: which waiting Task may start its Job now.
//
// A Task holds one of its Agent's slots from the moment it is admitted until
// its Job finishes. Holders are counted from the caches (a Task's Job, found
// by its deterministic name, still running and not suspended), so a restarted
// operator counts Jobs created just before it died. Between creating a Job
// and seeing it in the cache, a slot is held in memory (the ledger), and
// admissions for one Agent run one at a time (KeyedMutex in the reconciler):
// several workers never over-admit. Waiting Tasks start in creation order.
import { JobResource } from "../runtime/resources.ts";
import { AgentResource, TaskResource } from "../kinds.ts";
import type { CacheReader, KubeObject } from "../runtime/types.ts";
import { isControlledBy } from "../runtime/owners.ts";
import { KeyedMutex } from "../runtime/keyed_mutex.ts";
import { agentNameOf, jobNameFor } from "./names.ts";
import { jobPhase, type JobView } from "./status.ts";
import { stopRequested } from "./stop.ts";
import { isFinishedPhase } from "../status.ts";

/** Task cache index: "<namespace>/<agent name>" of the Agent a Task runs with. */
export const AGENT_INDEX = "agent";

export function agentKey(namespace: string | undefined, agentName: string): string {
  return `${namespace ?? ""}/${agentName}`;
}

export const agentKeyOf = (task: KubeObject) =>
  agentKey(task.metadata?.namespace, agentNameOf(task.spec));

const taskKeyOf = (task: KubeObject) => `${task.metadata?.namespace}/${task.metadata?.name}`;

/** Slots taken by Jobs just created and not yet in the cache, per Agent. */
export class SlotLedger {
  private held = new Map<string, Set<string>>();

  reserve(task: KubeObject): void {
    const key = agentKeyOf(task);
    const tasks = this.held.get(key) ?? new Set<string>();
    tasks.add(taskKeyOf(task));
    this.held.set(key, tasks);
  }

  has(task: KubeObject): boolean {
    return this.held.get(agentKeyOf(task))?.has(taskKeyOf(task)) ?? false;
  }

  /** Forgets reservations the cache now accounts for (Job cached, Task finished or gone). */
  prune(key: string, peers: KubeObject[], cache: CacheReader): void {
    const tasks = this.held.get(key);
    if (!tasks) return;
    const byKey = new Map(peers.map((t) => [taskKeyOf(t), t]));
    for (const k of tasks) {
      const task = byKey.get(k);
      if (!task || isFinishedPhase(task.status?.phase) || cachedJobOf(task, cache)) tasks.delete(k);
    }
    if (tasks.size === 0) this.held.delete(key);
  }
}

function cachedJobOf(task: KubeObject, cache: CacheReader): JobView | undefined {
  const name = task.status?.jobName ?? jobNameFor(task.metadata?.name ?? "");
  const job = cache.get<JobView>(JobResource, task.metadata?.namespace ?? "", name);
  return job && isControlledBy(job, task) ? job : undefined;
}

/** Whether `task` occupies a slot of its Agent now. */
function holdsSlot(task: KubeObject, cache: CacheReader, ledger: SlotLedger): boolean {
  if (isFinishedPhase(task.status?.phase) || task.metadata?.deletionTimestamp) return false;
  const job = cachedJobOf(task, cache);
  if (job) {
    const phase = jobPhase(job);
    return phase !== "Completed" && phase !== "Failed" && job.spec?.suspend !== true;
  }
  return ledger.has(task);
}

const byCreation = (a: KubeObject, b: KubeObject) =>
  String(a.metadata?.creationTimestamp ?? "").localeCompare(
    String(b.metadata?.creationTimestamp ?? ""),
  ) || String(a.metadata?.name).localeCompare(String(b.metadata?.name));

export type Admission = { admitted: boolean };

/** May `task` start now under a limit of `limit` running Tasks for its Agent? */
export function admit(
  task: KubeObject,
  limit: number,
  cache: CacheReader,
  ledger: SlotLedger,
): Admission {
  const key = agentKeyOf(task);
  const peers = cache.byIndex(TaskResource, AGENT_INDEX, key);
  ledger.prune(key, peers, cache);
  if (holdsSlot(task, cache, ledger)) return { admitted: true };
  const running = peers.filter((t) => holdsSlot(t, cache, ledger)).length;
  const free = limit - running;
  if (free <= 0) return { admitted: false };
  // Waiting: not started (no Job, no reservation), not finished, not being stopped.
  const waiting = peers.filter((t) =>
    !isFinishedPhase(t.status?.phase) && !t.metadata?.deletionTimestamp && !stopRequested(t) &&
    !t.status?.jobName && !cachedJobOf(t, cache) && !ledger.has(t)
  ).sort(byCreation);
  const place = waiting.findIndex((t) => taskKeyOf(t) === taskKeyOf(task));
  return { admitted: place >= 0 && place < free };
}

/**
 * Tasks that may be able to start because `task` changed: when a Task with a
 * Job (or a finished or deleted one) changes, the not-yet-started Tasks of
 * the same Agent, if that Agent has a limit.
 */
export function waitingPeers(task: KubeObject, cache: CacheReader): KubeObject[] {
  const startedOrDone = task.status?.jobName || isFinishedPhase(task.status?.phase) ||
    task.metadata?.deletionTimestamp;
  if (!startedOrDone) return [];
  const namespace = task.metadata?.namespace ?? "";
  const agent = cache.get(AgentResource, namespace, agentNameOf(task.spec));
  if (!(Number(agent?.spec?.maxConcurrentTasks) > 0)) return [];
  return cache.byIndex(TaskResource, AGENT_INDEX, agentKeyOf(task)).filter((t) =>
    !t.status?.jobName && !isFinishedPhase(t.status?.phase)
  );
}

/** In-memory state of admissions: one per Task controller. */
export class Capacity {
  readonly ledger = new SlotLedger();
  readonly mutex = new KeyedMutex();

  /**
   * The lock a reconcile of `task` must hold: its Agent's, when the Task has
   * not started and the Agent has a limit; otherwise none.
   */
  lockFor(task: KubeObject | undefined, cache: CacheReader): string | undefined {
    if (!task || task.status?.jobName || isFinishedPhase(task.status?.phase)) return undefined;
    const agent = cache.get(
      AgentResource,
      task.metadata?.namespace ?? "",
      agentNameOf(task.spec),
    );
    return Number(agent?.spec?.maxConcurrentTasks) > 0 ? agentKeyOf(task) : undefined;
  }
}
