// The Task controller: what it watches, what its caches keep, and how changes
// map to Task keys.
import { controllerOf } from "../runtime/owners.ts";
import { EventResource, JobResource, PodResource } from "../runtime/resources.ts";
import { mapPodToTask, podForCache, UNFINISHED_PODS_SELECTOR } from "./pod_progress.ts";
import {
  AgentResource,
  ContextGrantResource,
  ContextResource,
  KubeTaskConfigResource,
  NamespaceBudgetResource,
  TaskResource,
} from "../kinds.ts";
import type {
  CacheReader,
  Controller,
  KubeObject,
  Request,
  WatchSource,
} from "../runtime/types.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "./job.ts";
import { agentNameOf, KUBETASK_CONFIG_NAME, TASK_LABEL } from "./names.ts";
import {
  eventForCache,
  FAILED_CREATE_SELECTOR,
  JOB_UID_INDEX,
  jobUidOf,
  mapFailedCreateToTask,
} from "./failed_create.ts";
import { AGENT_INDEX, agentKey, agentKeyOf, Capacity, waitingPeers } from "./capacity.ts";
import { reconcileTask } from "./reconciler.ts";
import { beyondLimit, maxFinishedFrom } from "./retention.ts";
import { TaskMetrics } from "./metrics.ts";
import { isFinishedPhase } from "../status.ts";
import { contextForCache, taskForCache } from "./large_text.ts";
import { mapWorkloadToTask, workloadForCache, WorkloadResource } from "./kueue.ts";

const KIND = "Task";

function keyOf(task: KubeObject): Request {
  return { kind: KIND, namespace: task.metadata?.namespace ?? "", name: task.metadata?.name ?? "" };
}

/** Agents and Contexts are read only to start a Job: afterwards they no longer matter. */
const notStarted = (task: KubeObject) =>
  !task.status?.jobName && !isFinishedPhase(task.status?.phase);

/** A Task that started or ended may make room for waiting Tasks of its Agent. */
export function mapTaskToWaitingPeers(task: KubeObject, cache: CacheReader): Request[] {
  return waitingPeers(task, cache).map(keyOf);
}

/** A Task that finished may push the oldest finished ones past maxFinishedTasks. */
export function mapTaskToExcessFinished(task: KubeObject, cache: CacheReader): Request[] {
  if (!isFinishedPhase(task.status?.phase)) return [];
  const namespace = task.metadata?.namespace ?? "";
  const limit = maxFinishedFrom(cache.get(KubeTaskConfigResource, namespace, KUBETASK_CONFIG_NAME));
  return beyondLimit(() => cache.list(TaskResource, namespace), limit).map(keyOf);
}

/** Jobs map to the Task that controls them. */
export function mapJobToTask(job: KubeObject): Request[] {
  const ref = controllerOf(job, TaskResource);
  return ref ? [{ kind: KIND, namespace: job.metadata?.namespace ?? "", name: ref.name }] : [];
}

/** An Agent matters to the Tasks that run with it and have not started their Job. */
export function mapAgentToTasks(agent: KubeObject, cache: CacheReader): Request[] {
  const key = agentKey(agent.metadata?.namespace, agent.metadata?.name ?? "");
  return cache.byIndex(TaskResource, AGENT_INDEX, key).filter(notStarted).map(keyOf);
}

/** Not-yet-started Tasks naming a Context that `matches`, directly or through their Agent. */
function tasksUsingContexts(
  cache: CacheReader,
  matches: (name: string, namespace: string) => boolean,
): Request[] {
  const names = (mounts: { name: string; namespace?: string }[] | undefined, home: string) =>
    (mounts ?? []).some((m) => matches(m.name, m.namespace || home));
  return cache.list(TaskResource, "").filter((task) => {
    if (!notStarted(task)) return false;
    const home = task.metadata?.namespace ?? "";
    if (names(task.spec?.contexts, home)) return true;
    const agentName = agentNameOf(task.spec);
    return names(cache.get(AgentResource, home, agentName)?.spec?.contexts, home);
  }).map(keyOf);
}

/** A Context matters to the not-yet-started Tasks naming it. */
export function mapContextToTasks(context: KubeObject, cache: CacheReader): Request[] {
  const { name, namespace = "" } = context.metadata ?? {};
  return tasksUsingContexts(cache, (n, ns) => n === name && ns === namespace);
}

/** A ContextGrant matters to not-yet-started Tasks naming any Context of its namespace. */
export function mapGrantToTasks(grant: KubeObject, cache: CacheReader): Request[] {
  const namespace = grant.metadata?.namespace ?? "";
  return tasksUsingContexts(cache, (_, ns) => ns === namespace);
}

/** The namespace's KubeTaskConfig "default" sets the TTL of every Task there. */
export function mapConfigToTasks(config: KubeObject, cache: CacheReader): Request[] {
  if (config.metadata?.name !== KUBETASK_CONFIG_NAME) return [];
  return cache.list(TaskResource, config.metadata?.namespace ?? "").map(keyOf);
}

/** A NamespaceBudget (named after its namespace) holds or releases that namespace's new Tasks. */
export function mapNamespaceBudgetToTasks(budget: KubeObject, cache: CacheReader): Request[] {
  return cache.list(TaskResource, budget.metadata?.name ?? "").filter(notStarted).map(keyOf);
}

/** What the Job cache keeps: identity and status, not the pod template. */
export function jobForCache(job: KubeObject): KubeObject {
  const { template: _template, ...spec } = job.spec ?? {};
  return { ...job, spec };
}

const watches = (settings: JobSettings): WatchSource[] => [
  {
    type: TaskResource,
    transform: taskForCache, // the primary kind's cache: the same transform
    map: (task, cache) => [
      ...mapTaskToWaitingPeers(task, cache),
      ...mapTaskToExcessFinished(task, cache),
    ],
  },
  // Only our own Jobs (they carry the Task label): a cluster's other Jobs are
  // never cached. The Task's ConfigMap is not watched: nothing reads it back.
  { type: JobResource, labelSelector: TASK_LABEL, transform: jobForCache, map: mapJobToTask },
  { type: AgentResource, map: mapAgentToTasks },
  // Large inline content is left out of the cache and read live when task.md is built.
  { type: ContextResource, transform: contextForCache, map: mapContextToTasks },
  { type: ContextGrantResource, map: mapGrantToTasks },
  { type: KubeTaskConfigResource, map: mapConfigToTasks },
  // Cluster-scoped: one per limited namespace; the gateway's spend writes come through it too.
  { type: NamespaceBudgetResource, map: mapNamespaceBudgetToTasks },
  // Whether the agent started, and what holds its pod: only our Jobs' pods (the
  // Task label) that have not finished (a finished one leaves the cache, so a
  // restart lists none of them), trimmed to their scheduling and container states.
  {
    type: PodResource,
    labelSelector: TASK_LABEL,
    fieldSelector: UNFINISHED_PODS_SELECTOR,
    transform: podForCache,
    map: mapPodToTask,
  },
  // Why a Job has no pod (Pod Security, quota): only the Job controller's FailedCreate Events.
  {
    type: EventResource,
    fieldSelector: FAILED_CREATE_SELECTOR,
    transform: eventForCache,
    indexes: { [JOB_UID_INDEX]: jobUidOf },
    map: mapFailedCreateToTask,
  },
  // With Kueue: the Workloads of Kueue Jobs (their admission, Kueue's message), trimmed.
  ...(settings.kueue
    ? [{ type: WorkloadResource, transform: workloadForCache, map: mapWorkloadToTask }]
    : []),
];

export function createTaskController(settings: JobSettings = DEFAULT_JOB_SETTINGS): Controller {
  const capacity = new Capacity();
  const metrics = new TaskMetrics();
  return {
    kind: KIND,
    type: TaskResource,
    indexes: {
      [AGENT_INDEX]: (task) => [agentKeyOf(task)],
    },
    // A large description is left out of the cache and read live when task.md is built.
    transform: taskForCache,
    watches: watches(settings),
    reconcile: (req, ctx) => reconcileTask(req, ctx, settings, capacity, metrics),
    metrics,
  };
}

/** The Task controller with default settings. */
export const taskController: Controller = createTaskController();

export { AGENT_INDEX };
