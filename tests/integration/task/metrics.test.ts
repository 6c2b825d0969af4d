// Task metrics after a small run: phase counts, run durations by outcome,
// time spent Queued, read from the operator's own /metrics.
import assert from "assert";
import { kubectl } from "../env.ts";
import { TaskHarness } from "./harness.ts";

/** The value of one series, e.g. `kubetask_tasks{namespace="x",agent="a",phase="Completed"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("metrics: phases, run durations by outcome and queue time after a small run", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", {
      maxConcurrentTasks: 1,
      podSpec: { labels: { "sim.kubetask.io/run-for": "1s" } },
    });
    await h.agent("flaky", { podSpec: { labels: { "sim.kubetask.io/outcome": "fail" } } });
    await h.task("a");
    await h.task("b"); // waits for a
    await h.task("c", { agentRef: "flaky" });
    await h.waitForPhase("a", "Completed");
    await h.waitForPhase("b", "Completed");
    await h.waitForPhase("c", "Failed");
    await h.task("d", { agentRef: "not-there" });
    await h.waitForPhase("d", "Pending");
    await kubectl(["annotate", "task", "d", "-n", h.ns, "kubetask.io/stop=true"]);
    await h.waitForPhase("d", "Failed");

    const text = await h.metrics();
    const ns = `namespace="${h.ns}"`;
    assert.equal(sample(text, `kubetask_tasks{${ns},agent="default",phase="Completed"}`), 2);
    assert.equal(sample(text, `kubetask_tasks{${ns},agent="flaky",phase="Failed"}`), 1);
    assert.equal(sample(text, `kubetask_tasks{${ns},agent="not-there",phase="Failed"}`), 1);
    assert.equal(
      sample(
        text,
        `kubetask_task_run_duration_seconds_count{${ns},agent="default",outcome="succeeded"}`,
      ),
      2,
    );
    assert.equal(
      sample(
        text,
        `kubetask_task_run_duration_seconds_count{${ns},agent="flaky",outcome="failed"}`,
      ),
      1,
    );
    // d never ran: no run duration for it.
    assert.equal(
      sample(
        text,
        `kubetask_task_run_duration_seconds_count{${ns},agent="not-there",outcome="stopped"}`,
      ),
      undefined,
    );
    assert.equal(sample(text, `kubetask_task_queued_seconds_count{${ns},agent="default"}`), 1);
    const queuedFor = sample(text, `kubetask_task_queued_seconds_sum{${ns},agent="default"}`)!;
    assert.ok(queuedFor > 0 && queuedFor < 60, `b waited about as long as a ran: ${queuedFor}`);
    assert.equal(sample(text, `kubetask_agent_queue_length{${ns},agent="default"}`), undefined);
  } finally {
    await h.cleanup();
  }
});
