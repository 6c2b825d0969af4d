// The chaos workload: several namespaces, each with an unlimited Agent and one
// with maxConcurrentTasks, a burst of Tasks spread over them, and a CronTask
// every minute for each concurrency policy whose runs outlast the minute (so
// Forbid and Replace have an active run to respect).
import type { RestKubeClient } from "../../controllers/runtime/kube.ts";
import { AlreadyExistsError } from "../../controllers/runtime/types.ts";
import { AgentResource, CronTaskResource, TaskResource } from "../../controllers/kinds.ts";
import { writeInParallel } from "../bench/e2e/load.ts";
import { SA } from "../bench/e2e/bench_cluster.ts";

export const NAMESPACES = ["chaos-a", "chaos-b", "chaos-c", "chaos-d"];
export const LIMITED_AGENT = "limited";
export const LIMIT = 3;
export const CRON_NAMESPACE = NAMESPACES[0];
export const POLICIES = ["Allow", "Forbid", "Replace"] as const;
const IMAGE = "example.test/agent:1";

export async function createAgentsAndCronTasks(client: RestKubeClient): Promise<void> {
  for (const namespace of NAMESPACES) {
    await client.create(AgentResource, {
      metadata: { name: "default", namespace },
      spec: { agentImage: IMAGE, serviceAccountName: SA },
    });
    await client.create(AgentResource, {
      metadata: { name: LIMITED_AGENT, namespace },
      spec: {
        agentImage: IMAGE,
        serviceAccountName: SA,
        maxConcurrentTasks: LIMIT,
        // Long enough that the limit is really contended during the burst.
        podSpec: { labels: { "sim.kubetask.io/run-for": "2s" } },
      },
    });
  }
  // Runs last 90 s, so each minute's run meets the previous one still active.
  await client.create(AgentResource, {
    metadata: { name: "slow", namespace: CRON_NAMESPACE },
    spec: {
      agentImage: IMAGE,
      serviceAccountName: SA,
      podSpec: { labels: { "sim.kubetask.io/run-for": "90s" } },
    },
  });
  for (const policy of POLICIES) {
    await client.create(CronTaskResource, {
      metadata: { name: `every-minute-${policy.toLowerCase()}`, namespace: CRON_NAMESPACE },
      spec: {
        schedule: "* * * * *",
        concurrencyPolicy: policy,
        taskTemplate: { spec: { description: `${policy} run`, agentRef: "slow" } },
      },
    });
  }
}

/** Task i: namespace i mod 4; every other one on the limited Agent. */
export function burstTask(i: number) {
  return {
    metadata: { name: `burst-${i}`, namespace: NAMESPACES[i % NAMESPACES.length] },
    spec: {
      description: `Burst Task ${i}`,
      ...(Math.floor(i / NAMESPACES.length) % 2 ? { agentRef: LIMITED_AGENT } : {}),
    },
  };
}

/** Writes the burst; a write refused while the fault lasts is tried again, never skipped. */
export async function writeBurst(client: RestKubeClient, tasks: number): Promise<void> {
  await writeInParallel(4, tasks, async (i) => {
    for (let attempt = 0;; attempt++) {
      try {
        await client.create(TaskResource, burstTask(i));
        return;
      } catch (err) {
        // An earlier attempt landed and only its answer was lost.
        if (err instanceof AlreadyExistsError) return;
        if (attempt > 600) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });
}
