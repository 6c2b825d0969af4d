// Kueue objects for the tests against the real Kueue (integration, e2e and
// chaos): a flavor, a ClusterQueue of some CPUs and its LocalQueue, priority
// classes, and Kueue's own count of what it let run.
import { clusterState, eventually, kubectl } from "../env.ts";
import type { Json } from "../task/harness.ts";
import { isUnfinishedJob } from "../../chaos/invariants.ts";

/** Whether the cluster runs Kueue; the tests needing it are ignored without. */
export const withKueue = !!(await clusterState())?.kueue;
// tests/run.ts says once why they are skipped; run directly, the first file to ask says it.
if (!withKueue && !Deno.env.get("KUBETASK_KUEUE_SKIP_SAID")) {
  console.error(
    "[kueue] skipped: the cluster has no Kueue (deno task test starts it for these tests, " +
      "cluster up NAME --kueue for a kept cluster)",
  );
}

export const kueueObject = (kind: string, metadata: Json, rest: Json = {}) => ({
  apiVersion: "kueue.x-k8s.io/v1beta2",
  kind,
  metadata,
  ...rest,
});
const apply = (object: Json) => kubectl(["apply", "-f", "-"], JSON.stringify(object));

export interface QueueOptions {
  /** The ClusterQueue's name (default cq-<ns>). */
  clusterQueue?: string;
  /** The LocalQueue's name (default team-q). */
  localQueue?: string;
  /** More of the ClusterQueue's spec (preemption, cohortName). */
  spec?: Json;
}

/**
 * A ResourceFlavor, a ClusterQueue of `cpus` CPUs (a number or a quantity such
 * as "200m") for `ns` alone, and a LocalQueue in it; waits until Kueue says the
 * ClusterQueue is Active and returns what deletes it.
 */
export async function queues(
  ns: string,
  cpus: number | string,
  opts: QueueOptions = {},
): Promise<() => Promise<void>> {
  const cq = opts.clusterQueue ?? `cq-${ns}`;
  await apply(kueueObject("ResourceFlavor", { name: "default-flavor" }));
  await apply(kueueObject("ClusterQueue", { name: cq }, {
    spec: {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
      resourceGroups: [{
        coveredResources: ["cpu"],
        flavors: [{ name: "default-flavor", resources: [{ name: "cpu", nominalQuota: cpus }] }],
      }],
      ...opts.spec,
    },
  }));
  await apply(kueueObject("LocalQueue", { name: opts.localQueue ?? "team-q", namespace: ns }, {
    spec: { clusterQueue: cq },
  }));
  await eventually(`ClusterQueue ${cq} active`, async () => {
    const out = await kubectl([
      "get",
      "clusterqueue",
      cq,
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Active")].status}',
    ]);
    return out.trim() === "True";
  });
  return async () => {
    await kubectl(["delete", "clusterqueue", cq, "--wait=false", "--ignore-not-found"])
      .catch(() => {});
  };
}

/** WorkloadPriorityClasses kt-low (100) and kt-high (10000). */
export async function priorityClasses(): Promise<void> {
  for (const [name, value] of [["kt-low", 100], ["kt-high", 10_000]] as const) {
    await apply(kueueObject("WorkloadPriorityClass", { name }, { value }));
  }
}

/** Kueue's own count: Jobs it let run (not suspended) that have not finished. */
export const admittedUnfinished = (jobs: Json[]) => jobs.filter(isUnfinishedJob).length;
