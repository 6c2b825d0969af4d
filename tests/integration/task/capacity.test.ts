// Agent.spec.maxConcurrentTasks on the real apiserver: 5 Tasks under a limit
// of 2 never run more than 2 Jobs at once, start in creation order, and the
// waiting ones show phase Queued.
import assert from "assert";
import { kubectl } from "../env.ts";
import { type Json, TaskHarness } from "./harness.ts";

const unfinished = (job: Json) =>
  !(job.status?.conditions ?? []).some((c: Json) =>
    (c.type === "Complete" || c.type === "Failed") && c.status === "True"
  );

Deno.test("capacity: a limit of 2 with 5 Tasks never runs more than 2 and starts the rest in order", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      maxConcurrentTasks: 2,
      podSpec: { labels: { "sim.kubetask.io/run-for": "2s" } },
    });
    const names = ["t1", "t2", "t3", "t4", "t5"];
    for (const name of names) await h.task(name); // one by one: creation order is the order
    const started: string[] = [];
    let most = 0;
    let sawQueued = false;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const jobs = await h.list("jobs");
      most = Math.max(most, jobs.filter(unfinished).length);
      for (const job of jobs) {
        if (!started.includes(job.metadata.name)) started.push(job.metadata.name);
      }
      const tasks = await h.list("tasks");
      sawQueued ||= tasks.some((t: Json) => t.status?.phase === "Queued");
      if (tasks.every((t: Json) => t.status?.phase === "Completed")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(started.length, 5, `all five ran: ${started.join(",")}`);
    assert.ok(most <= 2, `at most 2 Jobs unfinished at once, saw ${most}`);
    assert.equal(most, 2, "the limit is used, not just respected");
    // Jobs that appear in the same poll are listed by name, which is also their creation order.
    assert.deepEqual(started, names);
    assert.ok(sawQueued, "waiting Tasks are shown as Queued");
    const table = await kubectl(["get", "tasks", "-n", h.ns]);
    assert.match(table, /PHASE/);
  } finally {
    await h.cleanup();
  }
});

Deno.test("capacity: a Queued Task can be stopped and never takes a slot", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      maxConcurrentTasks: 1,
      podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
    });
    await h.task("first");
    await h.waitForPhase("first", "Running");
    await h.task("second");
    await h.waitForPhase("second", "Queued");
    await kubectl(["annotate", "task", "second", "-n", h.ns, "kubetask.io/stop=true"]);
    const stopped = await h.waitForPhase("second", "Failed");
    assert.equal(
      stopped.status.conditions.find((c: Json) => c.type === "Succeeded").reason,
      "Stopped",
    );
    assert.deepEqual((await h.list("jobs")).map((j: Json) => j.metadata.name), ["first"]);
  } finally {
    await h.cleanup();
  }
});
