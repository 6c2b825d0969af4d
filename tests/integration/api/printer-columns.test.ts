// `kubectl get` shows the columns users look at first for each kind.
import assert from "assert";
import { kubectl, testNamespace } from "../env.ts";
import { create, installCrds } from "./crds.ts";

const OBJECTS = `
apiVersion: kubetask.io/v1alpha1
kind: Task
metadata: {name: columns-task}
spec: {description: hi, agentRef: reviewer}
---
apiVersion: kubetask.io/v1alpha1
kind: CronTask
metadata: {name: columns-cron}
spec:
  schedule: "0 9 * * *"
  taskTemplate: {spec: {description: hi}}
---
apiVersion: kubetask.io/v1alpha1
kind: Agent
metadata: {name: columns-agent}
spec: {agentImage: example/agent:v1, serviceAccountName: sa}
---
apiVersion: kubetask.io/v1alpha1
kind: Context
metadata: {name: columns-context}
spec: {type: Inline, inline: {content: hi}}
---
apiVersion: kubetask.io/v1alpha1
kind: KubeTaskConfig
metadata: {name: default}
spec: {taskLifecycle: {ttlSecondsAfterFinished: 60}}
`;

/** Splits kubectl's table output into rows of cells (cells are 2+ spaces apart). */
function rows(table: string): string[][] {
  return table.trim().split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s{2,}/));
}

Deno.test("kubectl get prints each kind's printer columns", async () => {
  await installCrds();
  const ns = await testNamespace("api-columns");
  try {
    for (const doc of OBJECTS.split("\n---\n")) {
      const result = await create(ns.name, doc);
      assert.ok(result.ok, result.ok ? "" : result.error);
    }
    const table = rows(
      await kubectl(["get", "-n", ns.name, "tasks,crontasks,agents,contexts,kubetaskconfigs"]),
    );
    const headers = table.filter((r) => r[0] === "NAME").map((r) => r.join(" "));
    assert.deepEqual(headers, [
      "NAME PHASE AGENT JOB AGE",
      "NAME SCHEDULE SUSPEND ACTIVE LAST SCHEDULE AGE",
      "NAME IMAGE EGRESS AGE",
      "NAME TYPE AGE",
      "NAME TTL AGE",
    ]);
    const row = (name: string) => table.find((r) => r[0].endsWith(`/${name}`))!;
    assert.deepEqual(row("columns-task").slice(0, 2), [
      "task.kubetask.io/columns-task",
      "reviewer",
    ]);
    assert.deepEqual(row("columns-cron").slice(1, 3), ["0 9 * * *", "false"]);
    assert.equal(row("columns-agent")[1], "example/agent:v1");
    assert.equal(row("columns-context")[1], "Inline");
    assert.equal(row("default")[1], "60");
  } finally {
    await ns.cleanup();
  }
});

Deno.test("the kubetask category lists every kind", async () => {
  await installCrds();
  const ns = await testNamespace("api-columns");
  try {
    for (const doc of OBJECTS.split("\n---\n")) await create(ns.name, doc);
    // Cluster-scoped kinds (ModelProvider, NamespaceBudget) list whatever other tests created.
    const names = (await kubectl(["get", "kubetask", "-n", ns.name, "-o", "name"])).trim().split(
      "\n",
    ).filter((n) => !n.startsWith("modelprovider.") && !n.startsWith("namespacebudget.")).sort();
    assert.deepEqual(names, [
      "agent.kubetask.io/columns-agent",
      "context.kubetask.io/columns-context",
      "crontask.kubetask.io/columns-cron",
      "kubetaskconfig.kubetask.io/default",
      "task.kubetask.io/columns-task",
    ]);
  } finally {
    await ns.cleanup();
  }
});
