// What an agent reports reaches the Task: exit code, summary and outputs from
// its termination message (the simulated kubelet copies the message from a
// pod annotation; the real-node tier writes it from a real process).
import assert from "assert";
import { applyPlan, emptyPlan } from "../../../controllers/runtime/apply.ts";
import { startManager } from "../../../controllers/runtime/manager.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import type { Controller } from "../../../controllers/runtime/types.ts";
import { AGENT_RESULT } from "../../../controllers/task/plan.ts";
import { eventually, kubectl } from "../env.ts";
import { condition, type Json, TaskHarness } from "./harness.ts";

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

// 16 outputs, then names a plain object inherits: once counted as present
// already, they took the outputs past the CRD's maxProperties (16), every
// status write was refused and the Task stayed Running forever.
const WEDGE = [
  ...Array.from({ length: 16 }, (_, i) => `::kubetask-output k${i}=v${i}::`),
  "::kubetask-output constructor=c::",
  "::kubetask-output toString=t::",
  "::kubetask-output valueOf=v::",
];

Deno.test("results: 16 outputs plus constructor, toString and valueOf still finish the Task, with 16 outputs", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      podSpec: { annotations: { "sim.kubetask.io/termination-message": WEDGE.join("\n") } },
    });
    await h.task("wedge");
    const done = await h.waitForPhase("wedge", "Completed");
    assert.equal(Object.keys(done.status.outputs).length, 16);
    assert.equal(done.status.outputs.k15, "v15");
    assert.equal(
      done.status.summary,
      WEDGE.slice(16).join("\n"),
      "the names over the limit stay visible as text",
    );
  } finally {
    await h.cleanup();
  }
});

Deno.test("results: a status the apiserver refuses for the agent's report is written without it, once", async () => {
  // The apply layer on its own, against the real schema: a plan whose agent
  // report is over the CRD's bounds, as the parser produced before its fix.
  const h = await TaskHarness.start();
  await h.stopManager();
  let reconciles = 0;
  const outputs = Object.fromEntries(WEDGE.map((l) => l.slice(18, -2).split("=")));
  const controller: Controller = {
    kind: "Task",
    type: TaskResource,
    watches: [],
    reconcile: (req, ctx) => {
      reconciles++;
      const task = ctx.cache.get(TaskResource, req.namespace, req.name);
      // Collected once, as the Task controller does: a finished Task keeps its status.
      if (!task || task.status?.phase) return Promise.resolve({});
      return applyPlan(
        ctx,
        { type: TaskResource, object: task },
        emptyPlan({
          status: { phase: "Completed", exitCode: 0, summary: "done", outputs },
          untrustedStatus: AGENT_RESULT,
        }),
      );
    },
  };
  const manager = await startManager({
    controllers: [controller],
    namespaces: [h.ns],
    leaderElection: false,
    metricsAddr: "127.0.0.1:0",
  });
  try {
    await manager.ready;
    await h.task("report");
    const task: Json = await eventually("the status written", async () => {
      const t = await h.get("task", "report");
      return t?.status?.phase ? t : undefined;
    });
    const recorded = condition(task, "ResultRecorded");
    console.log(`ResultRecorded: ${recorded?.reason}: ${recorded?.message}`);
    assert.equal(recorded?.status, "False");
    assert.equal(recorded?.reason, "AgentResultRejected");
    assert.match(recorded?.message, /status.outputs: Too many: 19: must have at most 16 items/);
    assert.equal(task.status.phase, "Completed");
    assert.equal(task.status.exitCode, 0);
    assert.equal(task.status.outputs, undefined);
    assert.equal(task.status.summary, undefined);
    await eventually(
      "the Warning Event",
      async () =>
        (await h.eventsFor("report")).find((e) => e.startsWith("Warning AgentResultRejected:")),
    );
    // Not retried: the status stays as written.
    const rv = task.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await h.get("task", "report")).metadata.resourceVersion, rv);
    assert.ok(reconciles <= 3, `${reconciles} reconciles`);
  } finally {
    await manager.stop();
    await h.cleanup();
  }
});
