// What every benchmark case and the chaos harness share: a fresh control plane
// per case with a namespace and ServiceAccount for agents, the machine's
// description printed next to every figure, and the apiserver's own count of
// the operator's requests (its audit log, see localcluster/operator_identity.ts).
import { type ClusterState, down, up, type UpOptions } from "../../../localcluster/cluster.ts";
import {
  type AuditedRequest,
  auditedRequests,
  auditLogPath,
} from "../../../localcluster/operator_identity.ts";
import type { KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";
import { adminClient } from "./load.ts";

export const NamespaceResource: ResourceType = {
  apiVersion: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
};
export const ServiceAccountResource: ResourceType = {
  apiVersion: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  namespaced: true,
};

export const NS = "bench";
export const SA = "agent-sa";

/**
 * The Job the floor writes for one Task, beside its ConfigMap `<name>-context`: what the
 * operator would create, less its owner, labels of its own and the agent's details.
 */
export function floorJob(
  name: string,
  namespace: string,
  podLabels: Record<string, string> = {},
): KubeObject {
  return {
    metadata: { name, namespace, labels: { "kubetask.io/task": name } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { "kubetask.io/task": name, ...podLabels } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: SA,
          containers: [{
            name: "agent",
            image: "example.test/agent:1",
            volumeMounts: [{ name: "ctx", mountPath: "/workspace/task.md", subPath: "task.md" }],
          }],
          volumes: [{ name: "ctx", configMap: { name: `${name}-context` } }],
        },
      },
    },
  };
}

export const seconds = (since: number) => (performance.now() - since) / 1000;
export const log = (msg: string) => console.error(`[bench] ${msg}`);

/**
 * Cluster names start with this (KUBETASK_BENCH_CLUSTER, default "bench"), so two people
 * sharing one machine and cache can run the benchmark side by side.
 */
export const CLUSTER_PREFIX = Deno.env.get("KUBETASK_BENCH_CLUSTER") ?? "bench";

export async function machine(): Promise<string> {
  const mem = (await Deno.readTextFile("/proc/meminfo")).match(/MemTotal:\s+(\d+)/)?.[1];
  const kernel = (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim();
  return `${navigator.hardwareConcurrency} cores, ${Math.round(Number(mem) / 1048576)} GiB, ` +
    `Linux ${kernel}, Deno ${Deno.version.deno}, ${new Date().toISOString()}`;
}

/** Creates the namespaces, each with the agents' ServiceAccount. */
export async function createNamespaces(state: ClusterState, names: string[]): Promise<void> {
  const { client, transport } = await adminClient(state.kubeconfig);
  try {
    for (const name of names) {
      await client.create(NamespaceResource, { metadata: { name } });
      await client.create(ServiceAccountResource, { metadata: { name: SA, namespace: name } });
    }
  } finally {
    await transport.close();
  }
}

/**
 * A fresh control plane `<prefix>-<name>` with the bench namespace, torn down afterwards;
 * `options` adds to the benchmark's own (e.g. kueue).
 */
export async function withCluster<T>(
  name: string,
  fn: (state: ClusterState) => Promise<T>,
  options: UpOptions = {},
): Promise<T> {
  const cluster = `${CLUSTER_PREFIX}-${name}`;
  log(`starting control plane ${cluster}`);
  const state = await up(cluster, { ...options, auditedOperator: true, realNode: false });
  try {
    await createNamespaces(state, [NS]);
    return await fn(state);
  } finally {
    await down(cluster);
  }
}

/** The operator's requests so far, as the apiserver's audit log records them. */
export async function audited(state: ClusterState): Promise<AuditedRequest[]> {
  const text = await Deno.readTextFile(auditLogPath(state.dir)).catch(() => "");
  return auditedRequests(text);
}

/** How many of each "verb resource" `requests` were; a list's further pages apart. */
export function requestsByKind(requests: AuditedRequest[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) {
    const what = `${r.verb} ${r.resource}${r.nextPage ? " (next page)" : ""}`;
    out.set(what, (out.get(what) ?? 0) + 1);
  }
  return out;
}

/**
 * A restart costs what its informers need, never what they hold: one list (in
 * pages) and one watch per kind, a discovery read, nothing per object. "met",
 * or what was more than that.
 */
export function restartVerdict(byKind: Map<string, number>): string {
  const more = [...byKind].filter(([what, n]) =>
    !what.endsWith(" (next page)") &&
    (n > 1 || !/^(list|watch) [a-z]|^get \/apis\//.test(what))
  );
  return more.length ? `missed: ${more.map(([what, n]) => `${what} x${n}`).join(", ")}` : "met";
}

/** Requests the operator sent, as the apiserver's audit log counts them. */
export async function auditedCount(state: ClusterState): Promise<number> {
  return (await audited(state)).length;
}
