// The operator installed by the chart (helm install of deploy/helm/kubetask,
// the image built here) as a harness's operator: it watches namespaces made
// up front, one per harness, and runs the settings the e2e cases need.
import { GIT_IMAGE } from "../../agents/images.ts";
import { operatorEntrypoint } from "../../localcluster/realnode/operator_image.ts";
import { installCrds } from "../integration/api/crds.ts";
import { eventually, kubectl, testNamespace } from "../integration/env.ts";
import { chart, helm } from "../integration/ship/helm.ts";
import type { Json, RunningOperator } from "../integration/task/harness.ts";
import { operatorNamespace, realNodeValues } from "./operator_install.ts";

export interface InstalledOperator extends RunningOperator {
  release: string;
  /** The operator's namespace (restricted Pod Security). */
  opNs: string;
  selector: string;
  close(): Promise<void>;
}

/** Installs the chart watching `namespaces` new namespaces; `values`: further helm flags. */
export async function installOperator(
  namespaces: number,
  values: string[] = [],
): Promise<InstalledOperator> {
  await installCrds();
  const op = await operatorNamespace();
  const watched = await Promise.all(
    Array.from({ length: namespaces }, () => testNamespace("task")),
  );
  const release = "kt-e2e";
  const selector = `app.kubernetes.io/instance=${release}`;
  const close = async () => {
    await helm("uninstall", release, "-n", op.name, "--wait", "--timeout", "120s").catch(() => {});
    for (const ns of watched) await ns.cleanup();
    await op.cleanup();
  };
  try {
    await helm(
      "install",
      release,
      chart,
      "--namespace",
      op.name,
      ...realNodeValues(watched.map((n) => n.name).join(",")),
      "--set",
      `gitImage=${GIT_IMAGE}`,
      // The Git proxy sidecar runs from the install's own image, whose executable is the bundle.
      "--set-json",
      `gitProxy.command=${JSON.stringify(operatorEntrypoint())}`,
      ...values,
    );
  } catch (err) {
    await close();
    throw err;
  }
  const free = watched.map((n) => n.name);
  return {
    release,
    opNs: op.name,
    selector,
    namespace() {
      const name = free.shift();
      if (!name) throw new Error("every namespace of the install is taken");
      return Promise.resolve(name);
    },
    close,
  };
}

/**
 * The install's one pod once Running and Ready (optionally a given uid's successor);
 * `selector`: one Deployment's pods where the install has more (the gateway's).
 */
export async function readyPod(
  op: InstalledOperator,
  not?: string,
  selector = op.selector,
): Promise<Json> {
  return await eventually(`the pod ${selector} in ${op.opNs} Ready`, async () => {
    const pods = JSON.parse(
      await kubectl(["get", "pods", "-n", op.opNs, "-l", selector, "-o", "json"]),
    ).items.filter((p: Json) => p.metadata.uid !== not && !p.metadata.deletionTimestamp);
    const p = pods.length === 1 ? pods[0] : undefined;
    const ready = p?.status?.conditions?.find((c: Json) => c.type === "Ready");
    return p?.status?.phase === "Running" && ready?.status === "True" ? p : undefined;
  }, 180_000).catch(async (err) => {
    const describe = await kubectl(["describe", "pods", "-n", op.opNs, "-l", selector])
      .catch(String);
    const logs = await kubectl(["logs", "-n", op.opNs, "-l", selector, "--tail=40"])
      .catch(String);
    throw new Error(`${err}\n${describe}\n--- logs ---\n${logs}`);
  });
}
