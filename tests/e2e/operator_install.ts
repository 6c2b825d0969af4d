// What the in-cluster operator tests share: the local operator image, a
// namespace for it under the restricted Pod Security Standard, and the
// `helm install` values that put the chart's pods on the real node with that
// image, watching one test namespace.
import { REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import { operatorImage } from "../../localcluster/realnode/operator_image.ts";
import { kubectl, testNamespace } from "../integration/env.ts";

export const IMAGE = operatorImage();
export const [REPOSITORY, TAG] = [
  IMAGE.slice(0, IMAGE.lastIndexOf(":")),
  IMAGE.split(":").at(-1)!,
];

/** A namespace for the operator, enforcing the restricted Pod Security Standard. */
export async function operatorNamespace() {
  const ns = await testNamespace("kubetask-op");
  await kubectl([
    "label",
    "namespace",
    ns.name,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  ]);
  return ns;
}

/** `--set` flags of an install on the real node from the local image, watching `watch` only. */
export function realNodeValues(watch: string, tag = TAG): string[] {
  return [
    "--set",
    `image.repository=${REPOSITORY}`,
    "--set",
    `image.tag=${tag}`,
    "--set",
    `watchNamespaces={${watch}}`,
    // The cluster's user ClusterRoles may be another install's.
    "--set",
    "userRoles.create=false",
    "--set-json",
    `nodeSelector=${JSON.stringify(REAL_NODE_SCHEDULING.nodeSelector)}`,
    "--set-json",
    `tolerations=${JSON.stringify(REAL_NODE_SCHEDULING.tolerations)}`,
  ];
}
