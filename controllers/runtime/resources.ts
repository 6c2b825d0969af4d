// The built-in resource types the operator reads and writes, named once, and
// the request path of each. Our own kinds are in controllers/kinds.ts: the
// runtime knows nothing about them.
import type { ResourceType } from "./types.ts";

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
export const NetworkPolicyResource: ResourceType = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  plural: "networkpolicies",
  namespaced: true,
};
export const ServiceResource: ResourceType = {
  apiVersion: "v1",
  kind: "Service",
  plural: "services",
  namespaced: true,
};
export const EventResource: ResourceType = {
  apiVersion: "v1",
  kind: "Event",
  plural: "events",
  namespaced: true,
};
export const CustomResourceDefinitionResource: ResourceType = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  plural: "customresourcedefinitions",
  namespaced: false,
};
export const LeaseResource: ResourceType = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
};

/**
 * Path segments must be names: "." or ".." would be resolved by URL
 * normalisation into another path (a collection instead of an object).
 */
function assertSegment(what: string, value: string): void {
  if (value === "" || value === "." || value === ".." || value.includes("/")) {
    throw new Error(`invalid ${what} ${JSON.stringify(value)} in a request path`);
  }
}

/** URL path of a collection (namespace "" = all namespaces) or of one object. */
export function resourcePath(type: ResourceType, namespace: string, name?: string): string {
  if (namespace) assertSegment("namespace", namespace);
  if (name !== undefined) assertSegment(`${type.kind} name`, name);
  const prefix = type.apiVersion.includes("/")
    ? `/apis/${type.apiVersion}`
    : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const obj = name === undefined ? "" : `/${encodeURIComponent(name)}`;
  return `${prefix}${ns}/${type.plural}${obj}`;
}
