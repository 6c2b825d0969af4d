// What the generated CRDs promise kubectl users: names, columns, subresources.
import assert from "assert";
import { buildCrd } from "../../../api/crdgen/crd.ts";
import { KINDS } from "../../../api/kinds.ts";

// deno-lint-ignore no-explicit-any
const crdOf = (kind: string): any => buildCrd(KINDS.find((k) => k.kind === kind)!);

Deno.test("every kind is a kubetask.io/v1alpha1 CRD in the kubetask category, namespaced but ModelProvider and NamespaceBudget", () => {
  for (const { kind } of KINDS) {
    const crd = crdOf(kind);
    assert.equal(crd.spec.group, "kubetask.io");
    // The platform defines model providers once; their keys are not the tenants'. A namespace's
    // budget is the platform's too: no RoleBinding in the namespace can reach it.
    const platform = ["ModelProvider", "NamespaceBudget"].includes(kind);
    assert.equal(crd.spec.scope, platform ? "Cluster" : "Namespaced", kind);
    assert.deepEqual(crd.spec.names.categories, ["kubetask"]);
    assert.equal(crd.spec.versions[0].name, "v1alpha1");
    const root = crd.spec.versions[0].schema.openAPIV3Schema;
    assert.deepEqual(
      root.properties.metadata,
      { type: "object" },
      `${kind}: metadata must stay open`,
    );
    assert.equal(root.properties.spec.type, "object");
  }
});

Deno.test("short names are unique across the kinds", () => {
  const names = KINDS.flatMap((k) => k.shortNames);
  assert.equal(new Set(names).size, names.length);
});

Deno.test("only Task, CronTask, Agent and NamespaceBudget have a status subresource", () => {
  const withStatus = KINDS.filter((k) => crdOf(k.kind).spec.versions[0].subresources?.status).map((
    k,
  ) => k.kind);
  assert.deepEqual(withStatus, ["Task", "CronTask", "Agent", "NamespaceBudget"]);
});

Deno.test("printer columns: Task shows phase, agent and job; every kind ends with Age", () => {
  const columns = (kind: string) =>
    crdOf(kind).spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
  assert.deepEqual(columns("Task"), ["Phase", "Agent", "Job", "Age"]);
  assert.deepEqual(columns("CronTask"), ["Schedule", "Suspend", "Active", "Last Schedule", "Age"]);
  assert.deepEqual(columns("Agent"), ["Image", "Egress", "Age"]);
  assert.deepEqual(columns("Context"), ["Type", "Age"]);
  assert.deepEqual(columns("KubeTaskConfig"), ["TTL", "Age"]);
});

Deno.test("no Kubernetes object metadata leaks into the spec schemas", () => {
  const text = JSON.stringify(KINDS.map((k) => crdOf(k.kind).spec.versions[0].schema));
  assert.ok(!text.includes("ownerReferences"));
});
