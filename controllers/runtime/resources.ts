// The resource types the operator reads and writes, named once.
import type { ResourceType } from "./types.ts";

const KUBETASK = "kubetask.io/v1alpha1";

export const TaskResource: ResourceType = {
  apiVersion: KUBETASK,
  kind: "Task",
  plural: "tasks",
  namespaced: true,
};
export const CronTaskResource: ResourceType = {
  apiVersion: KUBETASK,
  kind: "CronTask",
  plural: "crontasks",
  namespaced: true,
};
export const AgentResource: ResourceType = {
  apiVersion: KUBETASK,
  kind: "Agent",
  plural: "agents",
  namespaced: true,
};
export const ContextResource: ResourceType = {
  apiVersion: KUBETASK,
  kind: "Context",
  plural: "contexts",
  namespaced: true,
};
export const KubeTaskConfigResource: ResourceType = {
  apiVersion: KUBETASK,
  kind: "KubeTaskConfig",
  plural: "kubetaskconfigs",
  namespaced: true,
};

export const JobResource: ResourceType = {
  apiVersion: "batch/v1",
  kind: "Job",
  plural: "jobs",
  namespaced: true,
};
export const ConfigMapResource: ResourceType = {
  apiVersion: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
};
export const SecretResource: ResourceType = {
  apiVersion: "v1",
  kind: "Secret",
  plural: "secrets",
  namespaced: true,
};
export const PodResource: ResourceType = {
  apiVersion: "v1",
  kind: "Pod",
  plural: "pods",
  namespaced: true,
};
export const EventResource: ResourceType = {
  apiVersion: "v1",
  kind: "Event",
  plural: "events",
  namespaced: true,
};
export const LeaseResource: ResourceType = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
};

/** URL path of a collection (namespace "" = all namespaces) or of one object. */
export function resourcePath(type: ResourceType, namespace: string, name?: string): string {
  const prefix = type.apiVersion.includes("/")
    ? `/apis/${type.apiVersion}`
    : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const obj = name === undefined ? "" : `/${encodeURIComponent(name)}`;
  return `${prefix}${ns}/${type.plural}${obj}`;
}
