// Agent.spec.maxConcurrentTasks: which waiting Task may start its Job now.
//
// A Task holds one of its Agent's slots from the moment it is admitted until
// its Job finishes. Holders are counted from the caches (a Task's Job, found
// by its deterministic name, still running and not suspended), so a restarted
// operator counts Jobs created just before it died. Between creating a Job
// and seeing it in the cache, a slot is held in memory (the ledger), and
// admissions for one Agent run one at a time (KeyedMutex in the reconciler):
// several workers never over-admit. Waiting Tasks start in creation order.
//
// Observe gathers the slots (observeSlots, read-only), the plan decides
// (admitted), and the ledger changes only from what apply did (applied).
import { JobResource } from "../runtime/resources.ts";
import { AgentResource, TaskResource } from "../kinds.ts";
import type { CacheReader, KubeObject } from "../runtime/types.ts";
import { isControlledBy } from "../runtime/owners.ts";
import { KeyedMutex } from "../runtime/keyed_mutex.ts";
import { agentNameOf, jobNameFor } from "./names.ts";
import { jobPhase, type JobView } from "./job_phase.ts";
import { kueueQueueOf } from "./kueue.ts";
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

/**
 * Slots taken by Jobs just created and not yet in the cache, per Agent. It
 * changes in one place: Capacity.applied, from what an apply did.
 */
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

  /** Forgets the Agent's reservations the cache now accounts for (Job cached, Task finished or gone). */
  prune(key: string, cache: CacheReader): void {
    const tasks = this.held.get(key);
    if (!tasks) return;
    for (const k of tasks) {
      const [namespace, name] = k.split("/", 2);
      const task = cache.get(TaskResource, namespace, name);
      if (
        !task || agentKeyOf(task) !== key || isFinishedPhase(task.status?.phase) ||
        cachedJobOf(task, cache)
      ) tasks.delete(k);
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
    // A Job suspended by a stop frees its slot; one waiting in Kueue holds it
    // (maxConcurrentTasks applies first, Kueue decides after).
    return phase !== "Completed" && phase !== "Failed" &&
      (job.spec?.suspend !== true || kueueQueueOf(job) !== undefined);
  }
  return ledger.has(task);
}

const byCreation = (a: KubeObject, b: KubeObject) =>
  String(a.metadata?.creationTimestamp ?? "").localeCompare(
    String(b.metadata?.creationTimestamp ?? ""),
  ) || String(a.metadata?.name).localeCompare(String(b.metadata?.name));

/** An Agent's slots as the caches and the ledger show them to one waiting Task: facts, no verdict. */
export interface Slots {
  /** The Agent's maxConcurrentTasks. */
  limit: number;
  /** This Task holds one already (its Job runs, or was created just now). */
  held: boolean;
  /** How many of the Agent's Tasks hold one. */
  running: number;
  /** This Task's place among the Agent's waiting Tasks, oldest first (-1: not waiting). */
  place: number;
}

/** What admission under `limit` looks at for `task`; reads the caches and the ledger, changes nothing. */
export function observeSlots(
  task: KubeObject,
  limit: number,
  cache: CacheReader,
  ledger: SlotLedger,
): Slots {
  const peers = cache.byIndex(TaskResource, AGENT_INDEX, agentKeyOf(task));
  const running = peers.filter((t) => holdsSlot(t, cache, ledger)).length;
  // Waiting: not started (no Job, no reservation), not finished, not being stopped.
  const waiting = peers.filter((t) =>
    !isFinishedPhase(t.status?.phase) && !t.metadata?.deletionTimestamp && !stopRequested(t) &&
    !t.status?.jobName && !cachedJobOf(t, cache) && !ledger.has(t)
  ).sort(byCreation);
  const place = waiting.findIndex((t) => taskKeyOf(t) === taskKeyOf(task));
  return { limit, held: holdsSlot(task, cache, ledger), running, place };
}

/** May the Task start now? Waiting Tasks start in creation order, as slots free up. */
export function admitted(slots: Slots): boolean {
  if (slots.held) return true;
  const free = slots.limit - slots.running;
  return free > 0 && slots.place >= 0 && slots.place < free;
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
   * After an apply for `task`: a Job it created or adopted holds its slot from
   * now (the cache will not show it at once), and the Agent's reservations the
   * cache now accounts for are forgotten. The one place the ledger changes.
   */
  applied(task: KubeObject, jobEnsured: boolean, cache: CacheReader): void {
    if (jobEnsured) this.ledger.reserve(task);
    this.ledger.prune(agentKeyOf(task), cache);
  }

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
