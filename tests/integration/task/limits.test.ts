// An Agent admin's bounds hold against the Tasks that use the Agent: a Task
// asking for a longer timeout or keep-alive than the Agent allows is refused
// before any Job exists.
import assert from "assert";
import { condition, TaskHarness } from "./harness.ts";

Deno.test("limits: a Task asking for more than the Agent's maxTimeout or maxKeepAliveSeconds is refused, no Job", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      command: ["agent"],
      maxTimeout: "1h",
      maxKeepAliveSeconds: 600,
    });
    await h.task("long", { timeout: "25h" });
    await h.task("lingering", { humanInTheLoop: { enabled: true, keepAliveSeconds: 86400 } });
    await h.task("within", {
      timeout: "30m",
      humanInTheLoop: { enabled: true, keepAliveSeconds: 600 },
    });
    for (
      const [name, field] of [
        ["long", 'spec.timeout "25h"'],
        ["lingering", "spec.humanInTheLoop.keepAliveSeconds 86400"],
      ]
    ) {
      const task = await h.waitForPhase(name, "Failed");
      const succeeded = condition(task, "Succeeded");
      console.log(`${name}: ${succeeded.reason}: ${succeeded.message}`);
      assert.equal(succeeded.reason, "AgentLimitExceeded");
      assert.ok(succeeded.message.startsWith(field), succeeded.message);
      assert.equal(await h.get("job", name), undefined, "no Job");
      const events = await h.eventsFor(name);
      assert.ok(events.some((e) => e.startsWith("Warning AgentLimitExceeded")), events.join("\n"));
    }
    await h.waitForPhase("within", "Completed");
    const job = await h.get("job", "within");
    assert.equal(job.metadata.annotations["kubetask.io/timeout-seconds"], "1800");
  } finally {
    await h.cleanup();
  }
});
