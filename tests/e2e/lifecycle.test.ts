// A running agent's end on a real kubelet: deleting its Task kills the process
// and removes the pod; stopping it kills the process but keeps pod and logs.
import assert from "assert";
import { eventually, kubectl } from "../integration/env.ts";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { agentLog, onRealNode, realNodeAgent } from "./real_node.ts";
import { processesMentioning } from "../../localcluster/process.ts";

/** An agent that says it started and then sleeps for a number no other process uses. */
function sleeper(): { seconds: string; spec: Json } {
  const seconds = String(100_000 + Math.floor(Math.random() * 800_000));
  return {
    seconds,
    spec: realNodeAgent({ command: ["sh", "-c", `echo started; exec sleep ${seconds}`] }),
  };
}

Deno.test(
  onRealNode("e2e: deleting a Running Task kills the agent process and removes its pod"),
  async () => {
    const h = await TaskHarness.start();
    try {
      const { seconds, spec } = sleeper();
      await h.agent("default", spec);
      await h.task("doomed");
      await eventually(
        "the agent started",
        async () => /started/.test(await agentLog(h, "doomed").catch(() => "")),
        120_000,
      );
      assert.equal(
        (await processesMentioning(`sleep ${seconds}`)).length,
        1,
        "the agent runs on this machine",
      );
      await kubectl(["delete", "task", "doomed", "-n", h.ns, "--wait=true"]);
      await eventually("the pod is gone", async () => (await h.list("pods")).length === 0, 120_000);
      await eventually(
        "the process is gone",
        async () => (await processesMentioning(`sleep ${seconds}`)).length === 0,
        60_000,
      );
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode("e2e: stopping a Running Task kills the process, keeps the pod and its logs"),
  async () => {
    const h = await TaskHarness.start();
    try {
      const { seconds, spec } = sleeper();
      await h.agent("default", spec);
      await h.task("halt");
      await eventually(
        "the agent started",
        async () => /started/.test(await agentLog(h, "halt").catch(() => "")),
        120_000,
      );
      await kubectl(["annotate", "task", "halt", "-n", h.ns, "kubetask.io/stop=true"]);
      const stopped = await h.waitForPhase("halt", "Failed", 120_000);
      assert.equal(condition(stopped, "Succeeded").reason, "Stopped");
      assert.equal(
        (await processesMentioning(`sleep ${seconds}`)).length,
        0,
        "the process was killed",
      );
      const [pod] = await h.list("pods");
      assert.equal(pod?.status.reason, "DeadlineExceeded", "the kubelet ended it and kept it");
      assert.match(await agentLog(h, "halt"), /^started$/m, "its log is still readable");
    } finally {
      await h.cleanup();
    }
  },
);
