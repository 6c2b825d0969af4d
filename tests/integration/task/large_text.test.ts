// Large text stays out of the operator's caches and still reaches task.md
// whole: read live, by name, when the Task starts (controllers/task/large_text.ts).
import assert from "assert";
import { ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import { omittedText } from "../../../controllers/task/large_text.ts";
import { TaskHarness } from "./harness.ts";

/** `bytes` characters that begin and end with a line naming them. */
const text = (label: string, bytes: number) =>
  `BEGIN ${label}\n${"x".repeat(bytes - 2 * label.length - 14)}\nEND ${label}`;

Deno.test("large text: a long description and long Inline Contexts reach task.md and the mounted file whole", async () => {
  const h = await TaskHarness.start();
  try {
    const description = text("description", 200 * 1024);
    const appended = text("appended", 250 * 1024);
    const mounted = text("mounted", 100 * 1024);
    await h.agent("default");
    await h.context("appended", { type: "Inline", inline: { content: appended } });
    await h.context("mounted", { type: "Inline", inline: { content: mounted } });
    await h.task("big", {
      description,
      contexts: [{ name: "appended" }, { name: "mounted", mountPath: "/workspace/mounted.md" }],
    });
    await h.waitForPhase("big", "Completed");

    const cm = await h.get("configmap", "big-context");
    assert.equal(
      cm.data["task.md"],
      `${description}\n\n<context name="appended" namespace="${h.ns}" type="Inline">\n` +
        `${appended}\n</context>\n`,
    );
    assert.equal(cm.data["context-1"], mounted);

    // The operator's caches hold none of it, only its length.
    const task = h.cache.get(TaskResource, h.ns, "big");
    assert.equal(task?.spec.description, undefined);
    assert.deepEqual(omittedText(task), { field: "spec.description", length: description.length });
    for (const [name, content] of [["appended", appended], ["mounted", mounted]]) {
      const context = h.cache.get(ContextResource, h.ns, name);
      assert.equal(context?.spec.inline.content, undefined);
      assert.equal(omittedText(context)?.length, content.length);
    }
  } finally {
    await h.cleanup();
  }
});
