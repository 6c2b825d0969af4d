// The Helm charts rendered by the real helm (built from Go modules, pinned):
// lint is clean, the operator chart renders deploy/'s exact RBAC and the
// apiserver accepts every object (server-side dry run), and the batch
// example's Tasks reach Completed.
import assert from "assert";
import { parseConfig } from "../../../controllers/config.ts";
import { join } from "node:path";
import { chart, helm, named, render } from "./helm.ts";
import { kubectl, testNamespace } from "../env.ts";
import { TaskHarness } from "../task/harness.ts";
import { deployDir, flattenRules, kustomizeObjects } from "../../unit/ship/manifests.ts";

const batchChart = join(deployDir, "examples", "batch-chart");

Deno.test("helm lint: both charts are clean", async () => {
  for (const dir of [chart, batchChart]) {
    const out = await helm("lint", dir);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/, out);
  }
});

Deno.test("helm template: deploy/'s RBAC and the Deployment's flags, with the knobs", async () => {
  const objects = await render("kt", chart, "--namespace", "kubetask-system");
  const kustomized = await kustomizeObjects();
  for (const role of ["kubetask-controller", "kubetask-task-submitter", "kubetask-agent-admin"]) {
    assert.deepEqual(
      flattenRules(named(objects, "ClusterRole", role)?.rules),
      flattenRules(named(kustomized, "ClusterRole", role)!.rules),
      role,
    );
  }
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  const args: string[] = deployment.spec.template.spec.containers[0].args;
  assert.ok(args.includes("--operator-service-account=$(POD_NAMESPACE)/$(SERVICE_ACCOUNT)"));
  assert.ok(!args.some((a) => a.startsWith("--git-image")), "the operator's default unless set");
  // The agent pods' Git proxy runs from the chart's own operator image (a numeric tag too).
  for (const set of [[], ["--set", "image.tag=1"]]) {
    const pod = (await render("kt", chart, "--namespace", "kubetask-system", ...set))
      .find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0];
    const proxyArgs = pod.args.filter((a: string) => a.startsWith("--git-proxy-"));
    assert.equal(parseConfig(proxyArgs, () => undefined).gitProxy.image, pod.image, set.join(" "));
  }
  assert.ok(!args.includes("--allow-privileged-agents"), "privileged Agents refused by default");
  assert.ok(
    named(objects, "ValidatingAdmissionPolicy", "kubetask-agent-baseline"),
    "the Agent baseline policy is installed by default",
  );

  const tuned = await render(
    "kt",
    chart,
    "--namespace",
    "ops",
    "--set",
    "gitImage=mirror.test/git:2",
    "--set",
    "watchNamespaces={team-a,team-b}",
    "--set",
    "userRoles.create=false",
    "--set",
    "allowPrivilegedAgents=true",
    "--set",
    "gitProxy.image=mirror.test/kubetask:2",
    "--set-json",
    'gitProxy.command=["/usr/local/bin/deno","run","/kubetask.js"]',
  );
  const tunedArgs: string[] =
    tuned.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].args;
  assert.ok(tunedArgs.includes("--git-image=mirror.test/git:2"));
  assert.deepEqual(
    parseConfig(tunedArgs.filter((a) => a.startsWith("--git-proxy-")), () => undefined).gitProxy,
    { image: "mirror.test/kubetask:2", command: ["/usr/local/bin/deno", "run", "/kubetask.js"] },
  );
  assert.ok(tunedArgs.includes("--allow-privileged-agents"));
  assert.equal(
    tuned.filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy")).length,
    0,
    "no baseline policy where privileged agents are wanted",
  );
  assert.ok(tunedArgs.includes("--namespaces=team-a,team-b"));
  const roles = tuned.filter((o) => o.kind === "Role" && o.metadata.name === "kubetask-controller");
  assert.deepEqual(roles.map((o) => o.metadata.namespace).sort(), ["team-a", "team-b"]);
  assert.equal(
    named(tuned, "ClusterRole", "kubetask-controller"),
    undefined,
    "no cluster-wide access",
  );
  assert.equal(named(tuned, "ClusterRole", "kubetask-task-submitter"), undefined);
  assert.equal(
    named(tuned, "ClusterRole", "kubetask-metrics-reader"),
    undefined,
    "one per cluster",
  );
  // A scoped install names what it owns cluster-wide after its namespace: another scoped
  // install elsewhere never claims the same object.
  assert.ok(named(tuned, "ClusterRole", "kubetask-metrics-auth-ops"));
  assert.equal(
    named(tuned, "ClusterRoleBinding", "kubetask-metrics-auth-ops")?.roleRef.name,
    "kubetask-metrics-auth-ops",
  );
  assert.equal(named(tuned, "ClusterRole", "kubetask-metrics-auth"), undefined);

  const scoped = await render("kt", chart, "-n", "ops", "--set", "watchNamespaces={team-a,team-b}");
  const binding = named(scoped, "ValidatingAdmissionPolicyBinding", "kubetask-agent-baseline-ops");
  assert.ok(binding, "the baseline policy's binding, named after the install");
  assert.equal(binding.spec.policyName, "kubetask-agent-baseline-ops");
  assert.ok(named(scoped, "ValidatingAdmissionPolicy", "kubetask-agent-baseline-ops"));
  // NamespaceBudgets are cluster-scoped, which the tenants' Roles cannot grant: a ClusterRole of
  // this install reads them, and only them.
  assert.deepEqual(named(scoped, "ClusterRole", "kubetask-namespace-budgets-ops")?.rules, [
    {
      apiGroups: ["kubetask.io"],
      resources: ["namespacebudgets"],
      verbs: ["get", "list", "watch"],
    },
  ]);
  assert.equal(
    named(scoped, "ClusterRoleBinding", "kubetask-namespace-budgets-ops")?.subjects[0].name,
    "kubetask-controller",
  );
  assert.equal(named(objects, "ClusterRole", "kubetask-namespace-budgets"), undefined);
  assert.deepEqual(binding.spec.matchResources.namespaceSelector.matchExpressions, [
    { key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a", "team-b"] },
  ], "the policy holds in this install's namespaces only");
  assert.equal(
    named(objects, "ValidatingAdmissionPolicyBinding", "kubetask-agent-baseline")?.spec
      .matchResources,
    undefined,
    "a cluster-wide install's policy holds everywhere",
  );
});

Deno.test("helm install: two installs, each scoped to its own namespaces, live side by side", async () => {
  // Two operators splitting a cluster (README "Operating at scale"): each release in its own
  // namespace, watching its own tenants. The user ClusterRoles are the cluster's, not theirs.
  const installs = await Promise.all(["ops-a", "ops-b"].map((p) => testNamespace(p)));
  const tenants = await Promise.all(["team-a", "team-b"].map((p) => testNamespace(p)));
  const releases: string[][] = [];
  try {
    for (const [i, ns] of installs.entries()) {
      await helm(
        "install",
        "kubetask",
        chart,
        "--namespace",
        ns.name,
        "--set",
        `watchNamespaces={${tenants[i].name}}`,
        "--set",
        "userRoles.create=false",
      );
      releases.push(["uninstall", "kubetask", "--namespace", ns.name]);
    }
    for (const [i, ns] of installs.entries()) {
      const out = await kubectl([
        "get",
        "clusterrolebinding/kubetask-metrics-auth-" + ns.name,
        `validatingadmissionpolicybinding/kubetask-agent-baseline-${ns.name}`,
        "-o",
        "jsonpath={.items[*].metadata.annotations.meta\\.helm\\.sh/release-namespace}",
      ]);
      assert.equal(out.trim(), `${ns.name} ${ns.name}`, "each install owns its own objects");
      const role = await kubectl([
        "get",
        "role/kubetask-controller",
        "-n",
        tenants[i].name,
        "-o",
        "jsonpath={.metadata.annotations.meta\\.helm\\.sh/release-namespace}",
      ]);
      assert.equal(role.trim(), ns.name, "each install is granted only its tenants");
    }
  } finally {
    for (const args of releases) await helm(...args).catch(() => {});
    for (const ns of [...installs, ...tenants]) await ns.cleanup();
  }
});

Deno.test("helm template | kubectl apply --dry-run=server: the apiserver accepts the chart", async () => {
  const ns = await testNamespace("helm");
  try {
    const rendered = await helm("template", "kt", chart, "--namespace", ns.name);
    const out = await kubectl(["apply", "--dry-run=server", "-n", ns.name, "-f", "-"], rendered);
    assert.match(out, /deployment\.apps\/\S+ created \(server dry run\)/);
    assert.match(
      out,
      /clusterrole\.rbac\.authorization\.k8s\.io\/kubetask-controller (created|configured|unchanged) \(server dry run\)/,
    );
  } finally {
    await ns.cleanup();
  }
});

Deno.test("the batch example chart's Tasks reach Completed", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default");
    const rendered = await helm("template", "nightly", batchChart);
    await kubectl(["apply", "-n", h.ns, "-f", "-"], rendered);
    for (const name of ["update-service-a", "update-service-b", "update-service-c"]) {
      const task = await h.waitForPhase(name, "Completed");
      assert.equal(task.metadata.labels["app.kubernetes.io/instance"], "nightly");
      assert.match(task.spec.description, /^Update dependencies for service-/);
    }
  } finally {
    await h.cleanup();
  }
});
