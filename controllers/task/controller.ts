// The Task controller: what it watches and how changes map to Task keys.
import type {
  Controller,
  KubeObject,
  PrimaryCache,
  Request,
  WatchSource,
} from "../runtime/types.ts";
import {
  AgentResource,
  ConfigMapResource,
  ContextResource,
  JobResource,
  KubeTaskConfigResource,
  TaskResource,
} from "../runtime/resources.ts";
import { TASK_LABEL } from "./names.ts";
import { DEFAULT_AGENT_NAME, reconcileTask } from "./reconciler.ts";
import { KUBETASK_CONFIG_NAME } from "./ttl.ts";

const KIND = "Task";

function taskKey(namespace: string, name: string): Request {
  return { kind: KIND, namespace, name };
}

function keyOf(task: KubeObject): Request {
  return taskKey(task.metadata?.namespace ?? "", task.metadata?.name ?? "");
}

/** Jobs and ConfigMaps map to the Task that controls them. */
export function mapOwnedToTask(obj: KubeObject): Request[] {
  const owner = obj.metadata?.ownerReferences?.find((ref) =>
    ref.controller && ref.kind === KIND && ref.apiVersion.startsWith("kubetask.io/")
  );
  return owner ? [taskKey(obj.metadata?.namespace ?? "", owner.name)] : [];
}

/** An Agent maps to the Tasks in its namespace that name it (agentRef defaults to "default"). */
export function mapAgentToTasks(agent: KubeObject, cache: PrimaryCache): Request[] {
  const name = agent.metadata?.name;
  return cache.list(agent.metadata?.namespace)
    .filter((task) => (task.spec?.agentRef || DEFAULT_AGENT_NAME) === name)
    .map(keyOf);
}

function isUnfinished(task: KubeObject): boolean {
  const phase = task.status?.phase;
  return phase !== "Completed" && phase !== "Failed";
}

/**
 * A Context maps to the Tasks that reference it directly and, because Agents
 * are not cached here, to every unfinished Task in its namespace (which
 * covers Contexts referenced through an Agent).
 */
export function mapContextToTasks(context: KubeObject, cache: PrimaryCache): Request[] {
  const name = context.metadata?.name;
  const namespace = context.metadata?.namespace ?? "";
  const keys = new Map<string, Request>();
  for (const task of cache.list()) {
    const taskNs = task.metadata?.namespace ?? "";
    const refersToIt = (task.spec?.contexts ?? []).some((m: { name: string; namespace?: string }) =>
      m.name === name && (m.namespace || taskNs) === namespace
    );
    if (refersToIt || (taskNs === namespace && isUnfinished(task))) {
      const key = keyOf(task);
      keys.set(`${key.namespace}/${key.name}`, key);
    }
  }
  return [...keys.values()];
}

/** The namespace's KubeTaskConfig "default" sets the TTL of every Task there. */
export function mapConfigToTasks(config: KubeObject, cache: PrimaryCache): Request[] {
  if (config.metadata?.name !== KUBETASK_CONFIG_NAME) return [];
  return cache.list(config.metadata?.namespace).map(keyOf);
}

const watches: WatchSource[] = [
  // Only our own Jobs and ConfigMaps (they carry the Task label): a cluster's
  // other ConfigMaps and Jobs are never cached.
  { type: JobResource, labelSelector: TASK_LABEL, map: mapOwnedToTask },
  { type: ConfigMapResource, labelSelector: TASK_LABEL, map: mapOwnedToTask },
  { type: AgentResource, map: mapAgentToTasks },
  { type: ContextResource, map: mapContextToTasks },
  { type: KubeTaskConfigResource, map: mapConfigToTasks },
];

export const taskController: Controller = {
  kind: KIND,
  type: TaskResource,
  watches,
  reconcile: reconcileTask,
};
