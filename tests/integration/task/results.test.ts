// What an agent reports reaches the Task: exit code, summary and outputs from
// its termination message (the simulated kubelet copies the message from a
// pod annotation; the real-node tier writes it from a real process).
import assert from "assert";
import { kubectl } from "../env.ts";
import { TaskHarness } from "./harness.ts";

const MESSAGE = [
  "Opened a pull request fixing the flaky test.",
  "::kubetask-output pr=https://git.example.test/org/repo/pull/42::",
  "::kubetask-output branch=fix/flaky-test::",
].join("\n");

Deno.test("results: exit code, summary and outputs reach status; jsonpath gives the PR", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      podSpec: { annotations: { "sim.kubetask.io/termination-message": MESSAGE } },
    });
    await h.task("fix");
    const done = await h.waitForPhase("fix", "Completed");
    assert.equal(done.status.exitCode, 0);
    assert.equal(done.status.summary, "Opened a pull request fixing the flaky test.");
    assert.deepEqual(done.status.outputs, {
      pr: "https://git.example.test/org/repo/pull/42",
      branch: "fix/flaky-test",
    });
    const pr = await kubectl([
      "get",
      "task",
      "fix",
      "-n",
      h.ns,
      "-o",
      "jsonpath={.status.outputs.pr}",
    ]);
    assert.equal(pr, "https://git.example.test/org/repo/pull/42");

    await h.agent("failing", {
      podSpec: {
        labels: { "sim.kubetask.io/outcome": "fail" },
        annotations: { "sim.kubetask.io/termination-message": "tests still fail" },
      },
    });
    await h.task("broken", { agentRef: "failing" });
    const failed = await h.waitForPhase("broken", "Failed");
    assert.equal(failed.status.exitCode, 1);
    assert.equal(failed.status.summary, "tests still fail");
    assert.equal(failed.status.outputs, undefined);
  } finally {
    await h.cleanup();
  }
});
