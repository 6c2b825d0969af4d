// Cross-namespace Contexts need the owner's consent: a ContextGrant in the
// Context's namespace. Replays the attack (reading another team's ConfigMap
// through a Context reference), then grants and revokes.
import assert from "assert";
import { ContextGrantResource } from "../../../controllers/kinds.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { condition, type Json, TaskHarness } from "./harness.ts";

const SECRET_TEXT = "other team's private notes";

async function applyIn(namespace: string, obj: Json): Promise<void> {
  await kubectl(["apply", "-n", namespace, "-f", "-"], JSON.stringify(obj));
}

const grant = (namespaces: string[], contexts?: string[]) => ({
  apiVersion: "kubetask.io/v1alpha1",
  kind: "ContextGrant",
  metadata: { name: "share" },
  spec: { namespaces, ...(contexts ? { contexts } : {}) },
});

async function notFoundMessage(h: TaskHarness, name: string): Promise<string> {
  const task = await h.waitForPhase(name, "Failed");
  const succeeded = condition(task, "Succeeded");
  assert.equal(succeeded?.reason, "ContextNotFound");
  return succeeded.message;
}

/** Everything the Task's generated ConfigMap holds (what the agent pod would read). */
async function configMapText(h: TaskHarness, task: string): Promise<string> {
  const cm = await h.get("configmap", `${task}-context`);
  return JSON.stringify(cm?.data ?? {});
}

Deno.test("attack: a Task cannot read another namespace's Context until that namespace grants it", async () => {
  const other = await testNamespace("other");
  const h = await TaskHarness.start({ alsoWatch: [other.name] });
  try {
    await h.agent("default");
    await kubectl(
      ["create", "configmap", "private", "-n", other.name, `--from-literal=notes=${SECRET_TEXT}`],
    );
    for (const name of ["steal", "shared"]) {
      await applyIn(other.name, {
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Context",
        metadata: { name },
        spec: { type: "ConfigMap", configMap: { name: "private", key: "notes" } },
      });
    }
    const ref = (name: string) => ({ contexts: [{ name, namespace: other.name }] });

    // No grant: refused with the very words used for a Context that does not exist.
    await h.task("steal", ref("steal"));
    await h.task("ghost", ref("ghost"));
    const refused = await notFoundMessage(h, "steal");
    assert.equal(
      (await notFoundMessage(h, "ghost")).replace('"ghost"', '"steal"'),
      refused,
      "a refused Context and an absent one cannot be told apart",
    );
    assert.match(refused, new RegExp(`not shared with namespace "${h.ns}"`));
    assert.equal((await h.list("jobs")).length, 0);
    assert.ok(!(await configMapText(h, "steal")).includes(SECRET_TEXT));

    // A grant naming another namespace, or another Context, grants nothing here.
    await applyIn(other.name, grant(["someone-else"]));
    await h.task("steal-2", ref("steal"));
    assert.equal(await notFoundMessage(h, "steal-2"), refused);
    await applyIn(other.name, grant([h.ns], ["shared"]));
    await h.task("steal-3", ref("steal"));
    assert.equal(await notFoundMessage(h, "steal-3"), refused);

    // The granted Context works, content and all.
    await h.task("allowed", ref("shared"));
    await eventually("Job of the granted Task", () => h.get("job", "allowed"));
    assert.ok((await configMapText(h, "allowed")).includes(SECRET_TEXT));

    // Revoked: the next Task is refused again.
    await kubectl(["delete", "contextgrant", "share", "-n", other.name, "--wait"]);
    // The operator learns of the deletion by watch: wait until its cache has it.
    await eventually(
      "the operator's cache without the revoked grant",
      () => Promise.resolve(h.cached(ContextGrantResource, other.name, "share") === undefined),
    );
    await h.task("after-revoke", ref("shared"));
    assert.equal(
      (await notFoundMessage(h, "after-revoke")).replace('"shared"', '"steal"'),
      refused,
    );
  } finally {
    await h.cleanup();
    await other.cleanup();
  }
});
