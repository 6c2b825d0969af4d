// The operator as users run it: its image built here (operator_image.ts),
// installed by `helm install` of deploy/helm/kubetask and by `kubectl apply
// -k` of deploy/, as a pod on the real node. It reaches the apiserver through
// the `kubernetes` Service with its in-cluster configuration (the chart needs
// no test-only setting), runs under the install's ServiceAccount and RBAC
// alone, in a namespace enforcing the restricted Pod Security Standard, on a
// read-only root filesystem; it is Ready only once its caches have synced, and
// completes a Task whose agent runs on the same node. Uninstalling leaves
// nothing of the install but the CRDs (and the Tasks, which are the users').
//
// Each install watches only its test's namespace: the other tests run their
// own operators on the same cluster.
import assert from "assert";
import { join, relative } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { REAL_NODE, REAL_NODE_SCHEDULING } from "../../localcluster/realnode/node_config.ts";
import { OPERATOR_IMAGE_NAME } from "../../localcluster/realnode/operator_image.ts";
import { DEFAULT_IMAGE_PREFIX } from "../../agents/images.ts";
import { installCrds } from "../integration/api/crds.ts";
import { eventually, kubectl, testNamespace } from "../integration/env.ts";
import { chart, helm } from "../integration/ship/helm.ts";
import { deployDir } from "../unit/ship/manifests.ts";
import { onRealNode, realNodeAgent } from "./real_node.ts";
import { IMAGE, operatorNamespace, realNodeValues, REPOSITORY, TAG } from "./operator_install.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const AGENT_SA = "agent-sa";
/** The image deploy/ names, which the overlay replaces by the local one. */
const DEFAULT_REPOSITORY = `${DEFAULT_IMAGE_PREFIX}/${OPERATOR_IMAGE_NAME}`;

/** The Tasks' namespace: the agent's ServiceAccount and an Agent whose pods run on the real node. */
async function taskNamespace() {
  const ns = await testNamespace("kubetask-tasks");
  const create = (obj: Json) => kubectl(["create", "-n", ns.name, "-f", "-"], JSON.stringify(obj));
  await create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: AGENT_SA } });
  await create({
    apiVersion: "kubetask.io/v1alpha1",
    kind: "Agent",
    metadata: { name: "default" },
    spec: realNodeAgent({ serviceAccountName: AGENT_SA }),
  });
  return ns;
}

/** The operator's pod, once Running and Ready; what the test checks of it. */
async function readyOperatorPod(ns: string, selector: string): Promise<Json> {
  const pod = await eventually(`the operator pod in ${ns} Ready`, async () => {
    const pods = JSON.parse(await kubectl(["get", "pods", "-n", ns, "-l", selector, "-o", "json"]))
      .items;
    const p = pods[0];
    const ready = p?.status?.conditions?.find((c: Json) => c.type === "Ready");
    return p?.status?.phase === "Running" && ready?.status === "True" ? p : undefined;
  }, 180_000).catch(async (err) => {
    const describe = await kubectl(["describe", "pods", "-n", ns, "-l", selector]).catch(String);
    const logs = await kubectl(["logs", "-n", ns, "-l", selector, "--tail=40"]).catch(String);
    throw new Error(`${err}\n${describe}\n--- logs ---\n${logs}`);
  });
  console.error(
    `[e2e] ${await kubectl(["get", "pods", "-n", ns, "-o", "wide"])}`.trimEnd(),
  );
  return pod;
}

/** What a pod of the install must be: the local image, the install's identity, locked down. */
async function checkOperatorPod(pod: Json, serviceAccount: string): Promise<void> {
  const [container] = pod.spec.containers;
  assert.equal(container.image, IMAGE);
  assert.equal(pod.spec.serviceAccountName, serviceAccount);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(pod.spec.nodeName, REAL_NODE, "on the real node: its kubelet ran it");
  assert.match(pod.status.containerStatuses[0].imageID, /sha256:/);
  // In-cluster configuration: nothing but what the kubelet gives every pod.
  const env = (container.env ?? []).map((e: Json) => e.name);
  for (const name of env) assert.doesNotMatch(name, /^KUBERNETES_|^KUBECONFIG$/, name);
  const args: string[] = container.args ?? [];
  assert.ok(!args.some((a) => a.startsWith("--kubeconfig")), args.join(" "));

  // Ready only once the caches synced: the probe turned after the operator said so.
  const logs = await kubectl(["logs", "-n", pod.metadata.namespace, pod.metadata.name]);
  const syncedLine = logs.split("\n").find((l) => l.includes("informer caches synced"));
  assert.ok(syncedLine, `the operator logged its caches synced:\n${logs}`);
  const readyAt = Date.parse(
    pod.status.conditions.find((c: Json) => c.type === "Ready").lastTransitionTime,
  );
  const synced = JSON.parse(syncedLine);
  const syncedAt = Date.parse(synced.ts ?? synced.time);
  assert.ok(Number.isFinite(syncedAt), syncedLine);
  // lastTransitionTime has whole seconds.
  assert.ok(readyAt >= Math.floor(syncedAt / 1000) * 1000, `Ready ${readyAt} < synced ${syncedAt}`);
}

/** Every RoleBinding and ClusterRoleBinding that names the ServiceAccount, as kind/name. */
async function bindingsOf(namespace: string, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const kind of ["clusterrolebindings", "rolebindings"]) {
    const items = JSON.parse(await kubectl(["get", kind, "-A", "-o", "json"])).items;
    for (const b of items) {
      const names = (b.subjects ?? []).some((s: Json) =>
        s.kind === "ServiceAccount" && s.name === name && s.namespace === namespace
      );
      if (names) found.push(ref({ kind: b.kind, metadata: b.metadata }));
    }
  }
  return found.sort();
}

/** A Task in `ns` completed by the in-cluster operator (no operator runs on the host). */
async function taskCompletes(ns: string, name: string): Promise<Json> {
  await kubectl(
    ["create", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      metadata: { name },
      spec: { description: "Say hello from the real node." },
    }),
  );
  return await eventually(`Task ${name} Completed`, async () => {
    const t = JSON.parse(await kubectl(["get", "task", name, "-n", ns, "-o", "json"]));
    return t.status?.phase === "Completed" ? t : undefined;
  }, 180_000);
}

type Obj = { kind: string; metadata: { name: string; namespace?: string } };
const ref = (o: Obj) =>
  `${o.kind.toLowerCase()}/${o.metadata.name}${
    o.metadata.namespace ? ` -n ${o.metadata.namespace}` : ""
  }`;

const CLUSTER_SCOPED = new Set([
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "Namespace",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
]);

/** Helm's manifest leaves out the release namespace where a template does not set it. */
function inNamespace(objects: Obj[], namespace: string): Obj[] {
  return objects.map((o) =>
    CLUSTER_SCOPED.has(o.kind) || o.metadata.namespace
      ? o
      : { ...o, metadata: { ...o.metadata, namespace } }
  );
}

/** Which of `objects` still exist. */
async function remaining(objects: Obj[]): Promise<string[]> {
  if (objects.length === 0) return [];
  const out = await kubectl(
    ["get", "--ignore-not-found", "-o", "json", "-f", "-"],
    objects.map((o) => stringify(o)).join("---\n"),
  );
  if (!out.trim()) return [];
  const parsed = JSON.parse(out);
  return (parsed.items ?? [parsed]).map(ref);
}

Deno.test(
  onRealNode("e2e: helm install runs the operator's image as a pod that completes a Task"),
  async () => {
    await installCrds();
    const opNs = await operatorNamespace();
    const tasks = await taskNamespace();
    const release = "kt-e2e";
    let installed = false;
    try {
      await helm(
        "install",
        release,
        chart,
        "--namespace",
        opNs.name,
        ...realNodeValues(tasks.name),
      );
      installed = true;
      const manifest = inNamespace(
        parseAllDocuments(await helm("get", "manifest", release, "-n", opNs.name))
          .map((d) => d.toJS() as Obj).filter(Boolean),
        opNs.name,
      );
      const pod = await readyOperatorPod(opNs.name, `app.kubernetes.io/instance=${release}`);
      await checkOperatorPod(pod, "kubetask-controller");
      // Its permissions are the chart's alone: no binding names its ServiceAccount but the release's.
      const releaseBindings = manifest.filter((o) => /RoleBinding$/.test(o.kind)).map(ref).sort();
      assert.deepEqual(await bindingsOf(opNs.name, "kubetask-controller"), releaseBindings);

      const task = await taskCompletes(tasks.name, "hello");
      assert.equal(task.status.exitCode, 0);
      const job = JSON.parse(
        await kubectl(["get", "job", task.status.jobName, "-n", tasks.name, "-o", "json"]),
      );
      assert.equal(job.metadata.ownerReferences?.[0]?.name, "hello");

      await helm("uninstall", release, "-n", opNs.name, "--wait", "--timeout", "120s");
      installed = false;
      assert.deepEqual(await remaining(manifest), [], "helm uninstall removed every object");
      await eventually("the operator pod gone", async () =>
        (await kubectl([
          "get",
          "pods",
          "-n",
          opNs.name,
          "-l",
          `app.kubernetes.io/instance=${release}`,
          "-o",
          "name",
        ])).trim() === "", 60_000);
      // The users' objects stay: CRDs (Helm never deletes them) and the Task.
      await kubectl(["get", "crd", "tasks.kubetask.io"]);
      await kubectl(["get", "task", "hello", "-n", tasks.name]);
    } finally {
      if (installed) await helm("uninstall", release, "-n", opNs.name).catch(() => {});
      await tasks.cleanup();
      await opNs.cleanup();
    }
  },
);

const DEPLOY_NAMESPACE = "kubetask-system";

/**
 * A kustomization over deploy/ as a user would write one: the image, the
 * node to run on, and (for this test only) the one namespace to watch.
 */
async function overlay(taskNs: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-overlay-" });
  const patch = [
    {
      op: "add",
      path: "/spec/template/spec/nodeSelector",
      value: REAL_NODE_SCHEDULING.nodeSelector,
    },
    { op: "add", path: "/spec/template/spec/tolerations", value: REAL_NODE_SCHEDULING.tolerations },
    { op: "add", path: "/spec/template/spec/containers/0/args/-", value: `--namespaces=${taskNs}` },
  ];
  await Deno.writeTextFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      // kustomize takes a base outside the overlay by a relative path only.
      resources: [relative(dir, deployDir)],
      images: [{ name: DEFAULT_REPOSITORY, newName: REPOSITORY, newTag: TAG }],
      patches: [{
        target: { kind: "Deployment", name: "kubetask-controller" },
        patch: JSON.stringify(patch),
      }],
    }),
  );
  return dir;
}

Deno.test(
  onRealNode(
    "e2e: kubectl apply -k deploy/ runs the operator's image as a pod that completes a Task",
  ),
  async () => {
    await installCrds();
    const tasks = await taskNamespace();
    const dir = await overlay(tasks.name);
    const objects = parseAllDocuments(await kubectl(["kustomize", dir]))
      .map((d) => d.toJS() as Obj).filter((o) => o && o.kind !== "CustomResourceDefinition");
    // Objects that exist already are someone else's (another install's user roles).
    const before = new Set(await remaining(objects));
    const ours = objects.filter((o) => !before.has(ref(o)));
    try {
      await kubectl(["apply", "-k", dir]);
      const ns = JSON.parse(await kubectl(["get", "namespace", DEPLOY_NAMESPACE, "-o", "json"]));
      assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
      const pod = await readyOperatorPod(DEPLOY_NAMESPACE, "app.kubernetes.io/name=kubetask");
      await checkOperatorPod(pod, "kubetask-controller");
      const task = await taskCompletes(tasks.name, "hello-kustomize");
      assert.equal(task.status.exitCode, 0);
    } finally {
      await kubectl(
        ["delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-"],
        ours.map((o) => stringify(o)).join("---\n"),
      ).catch((err) => console.error(`[e2e] cleanup: ${err}`));
      await tasks.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual(await remaining(ours), [], "everything the apply created is gone");
  },
);
