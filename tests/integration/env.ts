// Shared helpers for integration tests: the real control plane started by
// tests/run.ts (or by hand: `deno task cluster up`, then KUBECONFIG set).
import * as k8s from "@kubernetes/client-node";
import { kubectl as clusterKubectl, readState } from "../../localcluster/cluster.ts";

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** The test cluster's processes, for tests that stop or restart a component. */
export function clusterState() {
  return readState(Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "default");
}

/** Creates a uniquely named namespace and returns it with a cleanup function. */
export async function testNamespace(
  prefix: string,
): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return {
    name,
    cleanup: async () => {
      await core.deleteNamespace({ name }).catch(() => {});
    },
  };
}

/** Polls `check` until it returns a truthy value, or fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ""}`,
  );
}

/** Runs kubectl against the test cluster; returns stdout or throws with stderr. */
export function kubectl(args: string[], stdin?: string): Promise<string> {
  const kubeconfig = Deno.env.get("KUBECONFIG");
  if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `deno task test`");
  return clusterKubectl({ kubectl: "kubectl", kubeconfig }, args, stdin);
}
