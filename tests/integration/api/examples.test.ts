// Every kubetask.io object in deploy/examples (the spec's examples) is valid.
// They name namespace kubetask-system; the test moves them into its own.
import assert from "assert";
import { parseAllDocuments, stringify } from "yaml";
import { kubectl, testNamespace } from "../env.ts";
import { create, installCrds } from "./crds.ts";

const examplesDir = new URL("../../../deploy/examples/", import.meta.url);

/** The kubetask.io documents of one example file, moved into `namespace`. */
async function kubetaskDocuments(
  file: string,
  namespace: string,
): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(new URL(file, examplesDir));
  // kubectl reads YAML 1.1, where 0400 is octal; parse the same way.
  return parseAllDocuments(text, { version: "1.1" })
    .map((doc) => doc.toJS() as { apiVersion?: string; metadata?: Record<string, unknown> } | null)
    .filter((obj) => obj?.apiVersion === "kubetask.io/v1alpha1")
    .map((obj) => ({ ...obj, metadata: { ...obj!.metadata, namespace } }));
}

Deno.test("every spec example in deploy/examples is accepted by the apiserver", async (t) => {
  await installCrds();
  const kinds = new Set<string>();
  const files = [...Deno.readDirSync(examplesDir)].filter((e) =>
    e.isFile && e.name.endsWith(".yaml")
  );
  for (const { name } of files.sort((a, b) => a.name.localeCompare(b.name))) {
    // A namespace per file: examples reuse names (Agent "default"), and each is
    // really created, not only dry-run.
    const ns = await testNamespace("api-examples");
    try {
      const docs = await kubetaskDocuments(name, ns.name);
      if (docs.length === 0) continue;
      await t.step(name, async () => {
        for (const doc of docs) {
          const result = await create(ns.name, stringify(doc));
          assert.ok(result.ok, `${name}: ${result.ok ? "" : result.error}`);
          kinds.add(doc.kind as string);
          // Cluster-scoped (ModelProvider, NamespaceBudget): not removed with the namespace.
          if (doc.kind === "ModelProvider" || doc.kind === "NamespaceBudget") {
            const meta = doc.metadata as { name: string };
            await kubectl([
              "delete",
              String(doc.kind).toLowerCase(),
              meta.name,
              "--ignore-not-found",
            ]);
          }
        }
      });
    } finally {
      await ns.cleanup();
    }
  }
  assert.deepEqual([...kinds].sort(), [
    "Agent",
    "Context",
    "CronTask",
    "KubeTaskConfig",
    "ModelProvider",
    "NamespaceBudget",
    "Task",
  ]);
});

Deno.test("the full Agent example keeps its octal fileMode 0400", async () => {
  await installCrds();
  const ns = await testNamespace("api-examples");
  try {
    const [agent] = await kubetaskDocuments("agent-full.yaml", ns.name);
    const result = await create(ns.name, stringify(agent), true);
    assert.ok(result.ok, result.ok ? "" : result.error);
    // deno-lint-ignore no-explicit-any
    const credentials = (result.object as any).spec.credentials;
    assert.equal(credentials.find((c: { name: string }) => c.name === "ssh-key").fileMode, 0o400);
  } finally {
    await ns.cleanup();
  }
});
