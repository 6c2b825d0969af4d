// Task and CronTask metrics: what is counted, and that it is counted once.
import assert from "assert";
import { TaskMetrics } from "../../../controllers/task/metrics.ts";
import { CronTaskMetrics } from "../../../controllers/crontask/metrics.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NOW = new Date("2030-01-01T00:10:00Z");
const cond = (type: string, reason: string, at = "2030-01-01T00:00:00Z") => ({
  type,
  status: "True" as const,
  reason,
  lastTransitionTime: at,
});

Deno.test("task metrics: a finish and a leave-the-queue are observed with their durations", () => {
  const m = new TaskMetrics();
  const running = {
    metadata: { namespace: "ns", name: "t" },
    spec: { agentRef: "claude" },
    status: {
      phase: "Queued",
      conditions: [cond("Ready", "AgentAtCapacity", "2030-01-01T00:09:00Z")],
    },
  };
  m.statusWritten(running, { phase: "Pending", jobName: "t" }, NOW);
  assert.equal(m.queuedDuration.count(["ns", "claude"]), 1);
  const done = {
    phase: "Failed" as const,
    startTime: "2030-01-01T00:00:00Z",
    completionTime: "2030-01-01T00:05:00Z",
    conditions: [cond("Succeeded", "Timeout")],
  };
  m.statusWritten({ ...running, status: { phase: "Running" } }, done, NOW);
  assert.equal(m.runDuration.count(["ns", "claude", "timeout"]), 1);
  assert.match(
    m.runDuration.render().join("\n"),
    /_sum\{namespace="ns",agent="claude",outcome="timeout"\} 300/,
  );
  // Already finished before: a later write (e.g. TTL bookkeeping) is not a second finish.
  m.statusWritten({ ...running, status: done }, done, NOW);
  assert.equal(m.runDuration.count(["ns", "claude", "timeout"]), 1);
});

Deno.test("task metrics: reported tokens and cost are counted once, when the Task finishes", () => {
  const m = new TaskMetrics();
  const before = { metadata: { namespace: "ns", name: "t" }, spec: { agentRef: "claude" } };
  const done = {
    phase: "Completed" as const,
    startTime: "2030-01-01T00:00:00Z",
    completionTime: "2030-01-01T00:05:00Z",
    conditions: [cond("Succeeded", "JobSucceeded")],
    usage: { inputTokens: 1200, outputTokens: 34, costUSD: "0.25", model: "m" },
  };
  m.statusWritten({ ...before, status: { phase: "Running" } }, done, NOW);
  m.statusWritten({ ...before, status: done }, done, NOW);
  assert.equal(m.tokens.get(["ns", "claude", "input"]), 1200);
  assert.equal(m.tokens.get(["ns", "claude", "output"]), 34);
  assert.equal(m.costUSD.get(["ns", "claude"]), 0.25);
  const text = m.render(new FakeCluster()).join("\n");
  assert.match(
    text,
    /^kubetask_agent_tokens_total\{namespace="ns",agent="claude",direction="input"\} 1200$/m,
  );
  assert.match(text, /^kubetask_agent_cost_usd_total\{namespace="ns",agent="claude"\} 0.25$/m);
});

Deno.test("task metrics: phase and queue gauges come from the cache at scrape time", () => {
  const c = new FakeCluster();
  const task = (name: string, phase: string, agentRef?: string) =>
    c.seed(TaskResource, {
      metadata: { namespace: "ns", name },
      spec: { agentRef },
      status: { phase },
    });
  task("a", "Queued");
  task("b", "Queued");
  task("c", "Running", "claude");
  const text = new TaskMetrics().render(c).join("\n");
  assert.match(text, /^kubetask_tasks\{namespace="ns",agent="default",phase="Queued"\} 2$/m);
  assert.match(text, /^kubetask_tasks\{namespace="ns",agent="claude",phase="Running"\} 1$/m);
  assert.match(text, /^kubetask_agent_queue_length\{namespace="ns",agent="default"\} 2$/m);
});

Deno.test("crontask metrics: started, skipped and missed, each scheduled time once", () => {
  const m = new CronTaskMetrics();
  const cron = (reason?: string, message?: string) => ({
    metadata: { namespace: "ns", name: "nightly" },
    status: reason ? { conditions: [{ type: "Scheduled", reason, message }] } : {},
  });
  m.applied(cron(), {}, true);
  const skipped = cron("TaskAlreadyActive", "Skipped the run scheduled at 01:00").status;
  m.applied(cron(), skipped, false);
  m.applied(cron("TaskAlreadyActive", "Skipped the run scheduled at 01:00"), skipped, false);
  const missed = cron("MissedSchedule", "Missed the run scheduled at 02:00").status;
  m.applied(cron(), missed, false);
  assert.equal(m.runs.get(["ns", "nightly", "started"]), 1);
  assert.equal(m.runs.get(["ns", "nightly", "skipped"]), 1, "the same postponed run counts once");
  assert.equal(m.runs.get(["ns", "nightly", "missed"]), 1);
});
