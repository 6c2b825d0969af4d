// Task metrics: phase counts and queue lengths computed from the cache at
// scrape time; two histograms and the model usage counters observed when a
// status write moves a Task out of Queued or into a finished phase (once per
// Task: a finished Task's status never changes again, and a reconcile skipped
// for a stale cache records nothing).
import type { TaskStatus } from "../../api/v1alpha1/index.ts";
import { CounterFamily, gaugeLines, HistogramFamily } from "../runtime/metric_families.ts";
import { TaskResource } from "../kinds.ts";
import type { CacheReader, KubeObject, MetricsCollector } from "../runtime/types.ts";
import { agentNameOf } from "./names.ts";
import { isFinishedPhase } from "../status.ts";

/** Agent runs last minutes to hours; queues seconds to hours. */
const SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400];

const OUTCOMES: Record<string, string> = {
  JobSucceeded: "succeeded",
  Stopped: "stopped",
  Timeout: "timeout",
  BudgetExceeded: "budget_exceeded",
};

const reasonOf = (status: TaskStatus | undefined, type: string) =>
  status?.conditions?.find((c) => c.type === type);
const secondsBetween = (from: string | undefined, to: string | undefined) =>
  (Date.parse(to ?? "") - Date.parse(from ?? "")) / 1000;

export class TaskMetrics implements MetricsCollector {
  readonly runDuration = new HistogramFamily(
    "kubetask_task_run_duration_seconds",
    "Seconds from a Task's Job being created to the Task finishing, by Agent and outcome " +
      "(succeeded, failed, stopped, timeout, budget_exceeded).",
    ["namespace", "agent", "outcome"],
    SECONDS_BUCKETS,
  );
  readonly queuedDuration = new HistogramFamily(
    "kubetask_task_queued_seconds",
    "Seconds a Task waited in phase Queued for its Agent's capacity, by Agent.",
    ["namespace", "agent"],
    SECONDS_BUCKETS,
  );
  readonly tokens = new CounterFamily(
    "kubetask_agent_tokens_total",
    "Model tokens the agents of finished Tasks reported, by Agent and direction (input, output).",
    ["namespace", "agent", "direction"],
  );
  readonly costUSD = new CounterFamily(
    "kubetask_agent_cost_usd_total",
    "US dollars the agents of finished Tasks reported spending, by Agent.",
    ["namespace", "agent"],
  );

  /** Called after `after` was written over `before`'s status. */
  statusWritten(before: KubeObject, after: TaskStatus, now: Date): void {
    const was = before.status as TaskStatus | undefined;
    const namespace = before.metadata?.namespace ?? "";
    const agent = agentNameOf(before.spec);
    if (was?.phase === "Queued" && after.phase !== "Queued") {
      const since = reasonOf(was, "Ready")?.lastTransitionTime;
      const seconds = secondsBetween(since, now.toISOString());
      if (seconds >= 0) this.queuedDuration.observe([namespace, agent], seconds);
    }
    if (!isFinishedPhase(was?.phase) && isFinishedPhase(after.phase) && after.startTime) {
      const reason = reasonOf(after, "Succeeded")?.reason ?? "";
      const seconds = secondsBetween(after.startTime, after.completionTime);
      if (seconds >= 0) {
        this.runDuration.observe([namespace, agent, OUTCOMES[reason] ?? "failed"], seconds);
      }
    }
    if (!isFinishedPhase(was?.phase) && isFinishedPhase(after.phase) && after.usage) {
      const { inputTokens, outputTokens, costUSD } = after.usage;
      if (inputTokens) this.tokens.inc([namespace, agent, "input"], inputTokens);
      if (outputTokens) this.tokens.inc([namespace, agent, "output"], outputTokens);
      if (costUSD && Number(costUSD) > 0) this.costUSD.inc([namespace, agent], Number(costUSD));
    }
  }

  render(cache: CacheReader): string[] {
    const byPhase = new Map<string, { labels: string[]; value: number }>();
    const queued = new Map<string, { labels: string[]; value: number }>();
    for (const task of cache.list(TaskResource, "")) {
      const namespace = task.metadata?.namespace ?? "";
      const phase = String(task.status?.phase ?? "Pending");
      const labels = [namespace, agentNameOf(task.spec), phase];
      const key = labels.join("\n");
      byPhase.set(key, { labels, value: (byPhase.get(key)?.value ?? 0) + 1 });
      if (phase === "Queued") {
        const q = [namespace, agentNameOf(task.spec)];
        queued.set(q.join("\n"), { labels: q, value: (queued.get(q.join("\n"))?.value ?? 0) + 1 });
      }
    }
    return [
      ...gaugeLines(
        "kubetask_tasks",
        "Tasks in the cache, by namespace, Agent and phase.",
        ["namespace", "agent", "phase"],
        byPhase,
      ),
      ...gaugeLines(
        "kubetask_agent_queue_length",
        "Tasks waiting in phase Queued for their Agent's capacity.",
        ["namespace", "agent"],
        queued,
      ),
      ...this.runDuration.render(),
      ...this.queuedDuration.render(),
      ...this.tokens.render(),
      ...this.costUSD.render(),
    ];
  }
}
