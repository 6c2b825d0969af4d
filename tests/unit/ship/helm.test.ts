// The Helm charts, checked without helm: it is not installed on our machines
// (`which helm` finds nothing) and the charts must not need a network to test.
// Instead: values and templates agree, templates are YAML once the template
// actions are stripped, the operator chart grants the same rules as deploy/,
// and the batch example renders valid Tasks for its values (a tiny renderer
// for the few template forms that chart uses).
import assert from "assert";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { task } from "../../../api/v1alpha1/index.ts";
import { deployDir, type Doc, flattenRules, kustomizeObjects, readDocs } from "./manifests.ts";

const chartDir = join(deployDir, "helm", "kubetask");
const batchDir = join(deployDir, "examples", "batch-chart");

async function templates(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(join(dir, "templates"))) {
    files.set(entry.name, await Deno.readTextFile(join(dir, "templates", entry.name)));
  }
  return files;
}

/** Dotted paths of every `.Values.a.b` a template mentions (also `$.Values`). */
function valuePaths(text: string): string[] {
  return [...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1].slice(1));
}

function lookup(values: Doc, path: string): unknown {
  return path.split(".").reduce<unknown>((v, key) => (v as Doc | undefined)?.[key], values);
}

/** Drops lines that are only template actions and blanks inline actions to a scalar. */
function stripActions(text: string): string {
  return text.split("\n")
    .filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
    .map((line) => line.replace(/\{\{.*?\}\}/g, "x"))
    .join("\n");
}

for (const dir of [chartDir, batchDir]) {
  const chart = dir.slice(deployDir.length + 1);

  Deno.test(`${chart}: every value a template uses is defined, and every value is used`, async () => {
    const meta = parse(await Deno.readTextFile(join(dir, "Chart.yaml")));
    assert.equal(meta.apiVersion, "v2");
    assert.ok(meta.name && meta.version);
    const values = parse(await Deno.readTextFile(join(dir, "values.yaml")));
    const used = new Set<string>();
    for (const [name, text] of await templates(dir)) {
      for (const path of valuePaths(text)) {
        assert.notEqual(
          lookup(values, path),
          undefined,
          `${name} uses .Values.${path}, absent from values.yaml`,
        );
        used.add(path.split(".")[0]);
      }
    }
    for (const key of Object.keys(values)) {
      assert.ok(used.has(key), `values.${key} is used by a template`);
    }
  });

  Deno.test(`${chart}: templates are YAML apart from their template actions`, async () => {
    for (const [name, text] of await templates(dir)) {
      if (!name.endsWith(".yaml")) continue;
      for (const doc of parseAllDocuments(stripActions(text))) {
        assert.deepEqual(doc.errors.map((e) => e.message), [], `${name} parses`);
      }
    }
  });
}

Deno.test("the operator chart offers the configurable knobs and grants deploy/'s exact rules", async () => {
  const values = parse(await Deno.readTextFile(join(chartDir, "values.yaml")));
  for (
    const path of [
      "image.repository",
      "image.tag",
      "replicas",
      "watchNamespaces",
      "leaderElection.enabled",
      "leaderElection.leaseDuration",
      "leaderElection.renewDeadline",
      "leaderElection.retryPeriod",
      "gitImage",
      "gitProxy.image",
      "gitProxy.command",
      "allowPrivilegedAgents",
    ]
  ) {
    assert.notEqual(lookup(values, path), undefined, `values.${path}`);
  }
  assert.ok(values.resources.requests && values.resources.limits);

  // The rules block of _helpers.tpl is plain YAML between define and end.
  const helpers = await Deno.readTextFile(join(chartDir, "templates", "_helpers.tpl"));
  const block = helpers.match(
    /\{\{-? define "kubetask\.rules" -?\}\}\n([\s\S]*?)\{\{-? end -?\}\}/,
  );
  assert.ok(block, "kubetask.rules is defined");
  const chartRules = flattenRules(parse(block[1]));
  const role = (await kustomizeObjects()).find((o) =>
    o.kind === "ClusterRole" && o.metadata.name === "kubetask-controller"
  );
  assert.deepEqual(chartRules, flattenRules(role!.rules));

  const deployment = (await templates(chartDir)).get("deployment.yaml")!;
  for (
    const arg of [
      "--leader-elect={{ .Values.leaderElection.enabled }}",
      "--leader-election-lease-duration={{ .Values.leaderElection.leaseDuration }}",
      "--leader-election-renew-deadline={{ .Values.leaderElection.renewDeadline }}",
      "--leader-election-retry-period={{ .Values.leaderElection.retryPeriod }}",
      "--namespaces=",
      "--metrics-addr=",
      "--metrics-secure={{ .Values.metricsSecure }}",
      "--git-image=",
      "--git-proxy-image=",
      "--git-proxy-command=",
      "--allow-privileged-agents",
      "/healthz",
      "/readyz",
    ]
  ) {
    assert.ok(deployment.includes(arg), `deployment template mentions ${arg}`);
  }
  for (
    const hardening of [
      "readOnlyRootFilesystem: true",
      "allowPrivilegeEscalation: false",
      "runAsNonRoot: true",
    ]
  ) {
    assert.ok(deployment.includes(hardening), hardening);
  }
});

Deno.test("the chart's metrics roles grant deploy/'s exact rules", async () => {
  const template = await Deno.readTextFile(join(chartDir, "templates", "metrics-rbac.yaml"));
  const docs = parseAllDocuments(stripActions(template)).map((d) => d.toJS()).filter(Boolean);
  const kustomized = await kustomizeObjects();
  // The chart names the review role per install (a template action, stripped to "x" here).
  const chartRoles = docs.filter((o) => o.kind === "ClusterRole");
  assert.deepEqual(chartRoles.map((o) => o.metadata.name), ["x", "kubetask-metrics-reader"]);
  for (const [i, name] of ["kubetask-metrics-auth", "kubetask-metrics-reader"].entries()) {
    const deployed = kustomized.find((o) => o.kind === "ClusterRole" && o.metadata.name === name)!;
    assert.deepEqual(flattenRules(chartRoles[i].rules), flattenRules(deployed.rules), name);
  }
});

Deno.test("the chart's user ClusterRoles are deploy/'s, word for word", async () => {
  const template = await Deno.readTextFile(join(chartDir, "templates", "user-roles.yaml"));
  const body = template.match(
    /\{\{- if \.Values\.userRoles\.create \}\}\n([\s\S]*)\{\{- end \}\}\n$/,
  );
  assert.ok(body, "user-roles.yaml is one `if .Values.userRoles.create` block");
  assert.equal(body[1], await Deno.readTextFile(join(deployDir, "clusterrole-users.yaml")));
});

/** Renders the batch chart's one `range .Values.tasks` loop the way helm would. */
function renderBatch(template: string, values: Doc, release: string): string {
  const body = template.match(/\{\{- range \.Values\.tasks \}\}\n([\s\S]*)\{\{- end \}\}\s*$/);
  assert.ok(body, "tasks.yaml is one range over .Values.tasks");
  return values.tasks.map((item: Doc) =>
    body[1]
      .replace(
        /\n?\s*\{\{- with \$\.Values\.agentRef \}\}\n([\s\S]*?)\n\s*\{\{- end \}\}/,
        (_, inner) => values.agentRef ? "\n" + inner.replace("{{ . }}", values.agentRef) : "",
      )
      .replace(/\{\{ \$\.Release\.Name \}\}/g, release)
      .replace(/\{\{ \.(\w+) \}\}/g, (_, key) => String(item[key]))
  ).join("\n");
}

Deno.test("the batch example renders one valid Task per values entry", async () => {
  const [values] = await readDocs(join(batchDir, "values.yaml"));
  const template = (await templates(batchDir)).get("tasks.yaml")!;
  for (const agentRef of ["", "claude"]) {
    const rendered = renderBatch(template, { ...values, agentRef }, "my-tasks");
    const tasks = parseAllDocuments(rendered).map((d) => d.toJS()).filter(Boolean);
    assert.deepEqual(tasks.map((t) => t.metadata.name), values.tasks.map((t: Doc) => t.name));
    for (const [i, t] of tasks.entries()) {
      assert.equal(t.apiVersion, "kubetask.io/v1alpha1");
      assert.equal(t.kind, "Task");
      const parsed = task.parse(t);
      assert.equal(parsed.spec.description, `Update dependencies for ${values.tasks[i].repo}`);
      assert.equal(parsed.spec.agentRef, agentRef || undefined);
    }
  }
});
