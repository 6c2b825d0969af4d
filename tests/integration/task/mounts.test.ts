// A Task submitter cannot mount over the agent's own files: a Task's contexts
// go under the Agent's workspaceDir (or the prefixes the Agent allows). Replayed:
// an Inline Context mounted over the echo agent's binary.
import assert from "assert";
import { condition, TaskHarness } from "./harness.ts";

Deno.test("mounts: a Task context over the agent's binary is refused with a condition, no Job", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", { command: ["/usr/local/bin/echo-agent"] });
    await h.context("payload", { type: "Inline", inline: { content: "#!/bin/sh\nid\n" } });
    await h.task("overwrite", {
      contexts: [{ name: "payload", mountPath: "/usr/local/bin/echo-agent" }],
    });
    const task = await h.waitForPhase("overwrite", "Failed");
    const succeeded = condition(task, "Succeeded");
    console.log(`overwrite: ${succeeded.reason}: ${succeeded.message}`);
    assert.equal(succeeded.reason, "MountPathNotAllowed");
    assert.match(
      succeeded.message,
      /^spec.contexts\[0\].mountPath "\/usr\/local\/bin\/echo-agent" is outside/,
    );
    assert.equal(await h.get("job", "overwrite"), undefined, "no Job");
    const events = await h.eventsFor("overwrite");
    assert.ok(events.some((e) => e.startsWith("Warning MountPathNotAllowed")), events.join("\n"));

    // Climbing out with ".." is refused by the apiserver itself.
    const climbed = await h.task("climb", {
      contexts: [{ name: "payload", mountPath: "/workspace/../usr/local/bin/echo-agent" }],
    }).then(() => "created", (err) => String(err));
    console.log(`climb: ${climbed.trim().split("\n").at(-1)}`);
    assert.match(climbed, /spec.contexts\[0\].mountPath: Invalid value/);
    assert.match(climbed, /mountPath must not contain "\.\." segments/);

    // Under the workspace, or under a prefix the Agent allows, it runs.
    await h.agent("wider", { allowedMountPrefixes: ["/home/agent/docs"] });
    await h.task("allowed", {
      agentRef: "wider",
      contexts: [
        { name: "payload", mountPath: "/workspace/notes.md" },
        { name: "payload", mountPath: "/home/agent/docs/notes.md" },
      ],
    });
    await h.waitForPhase("allowed", "Completed");
  } finally {
    await h.cleanup();
  }
});
