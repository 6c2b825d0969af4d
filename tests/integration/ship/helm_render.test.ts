// The Helm charts rendered by the real helm (built from Go modules, pinned):
// lint is clean, the operator chart renders deploy/'s exact RBAC and the
// apiserver accepts every object (server-side dry run), and the batch
// example's Tasks reach Completed.
import assert from "assert";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureHelm } from "../../../localcluster/binaries.ts";
import { kubectl, testNamespace } from "../env.ts";
import { TaskHarness } from "../task/harness.ts";
import { deployDir, flattenRules, kustomizeObjects } from "../../unit/ship/manifests.ts";

// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

const chart = join(deployDir, "helm", "kubetask");
const batchChart = join(deployDir, "examples", "batch-chart");

async function helm(...args: string[]): Promise<string> {
  const out = await new Deno.Command(await ensureHelm(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`helm ${args.join(" ")}:\n${text}`);
  return text;
}

async function render(...args: string[]): Promise<Doc[]> {
  const text = await helm("template", ...args);
  return parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);
}

const named = (objects: Doc[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata?.name === name);

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
  );
  const tunedArgs: string[] =
    tuned.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].args;
  assert.ok(tunedArgs.includes("--git-image=mirror.test/git:2"));
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
