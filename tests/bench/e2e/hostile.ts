// Memory under hostile sizes: what a tenant who may create Contexts and Tasks
// can make the shared operator hold. Inline Contexts of 256 KiB (the API's
// limit) and Tasks with 200 KiB descriptions, every fourth Task appending one
// of those Contexts to its task.md. Measured: RSS with the Contexts cached,
// after every Task got its Job, and after a restart (the caches filled by
// lists instead of watch events). Pods are held Running, so each Task has
// three revisions in etcd, not four (its default 2 GiB quota is the limit here).
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource, JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { configMapNameFor } from "../../../controllers/task/names.ts";
import { adminClient, JobCounter, writeInParallel } from "./load.ts";
import { type Memory, OperatorProcess } from "./operator_process.ts";
import { ownership } from "./ownership.ts";
import { log, NS, SA, withCluster } from "./bench_cluster.ts";

export const CONTEXT_BYTES = 256 * 1024;
export const DESCRIPTION_BYTES = 200 * 1024;

export interface HostileFigures {
  contexts: number;
  tasks: number;
  idle: Memory;
  withContexts: Memory;
  afterJobs: Memory;
  restarted: Memory;
  duplicates: number;
  lost: number;
  /** Sampled task.md ConfigMaps that lack the full description or Context text. */
  incomplete: number;
  sampled: number;
}

/** Text of `bytes` ASCII characters that starts and ends with a marker naming it. */
function text(label: string, bytes: number): string {
  const head = `BEGIN ${label}\n`;
  const tail = `\nEND ${label}`;
  return head + "x".repeat(bytes - head.length - tail.length) + tail;
}

const usesContext = (i: number) => i % 4 === 0;

export async function hostileCase(
  contexts: number,
  tasks: number,
  writers: number,
): Promise<HostileFigures> {
  return await withCluster("hostile", async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    await applyCrds(client, ourCrds(), silentLogger);
    await client.create(AgentResource, {
      metadata: { name: "default", namespace: NS },
      spec: {
        agentImage: "example.test/agent:1",
        serviceAccountName: SA,
        podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
      },
    });
    let operator = new OperatorProcess(state.operatorKubeconfig!, NS);
    const settle = () => new Promise((r) => setTimeout(r, 3000));
    try {
      await operator.ready();
      await settle();
      const idle = operator.memory();

      log(`hostile: ${contexts} Inline Contexts of ${CONTEXT_BYTES / 1024} KiB`);
      await writeInParallel(writers, contexts, (i) =>
        client.create(ContextResource, {
          metadata: { name: `big-${i}`, namespace: NS },
          spec: { type: "Inline", inline: { content: text(`context ${i}`, CONTEXT_BYTES) } },
        }));
      await settle();
      const withContexts = operator.memory();

      log(`hostile: ${tasks} Tasks with ${DESCRIPTION_BYTES / 1024} KiB descriptions`);
      const jobs = new JobCounter(transport, NS);
      await jobs.synced();
      await writeInParallel(writers, tasks, (i) =>
        client.create(TaskResource, {
          metadata: { name: `task-${i}`, namespace: NS },
          spec: {
            description: text(`task ${i}`, DESCRIPTION_BYTES),
            ...(usesContext(i) ? { contexts: [{ name: `big-${i % contexts}` }] } : {}),
          },
        }));
      await jobs.reached(tasks, 1_800_000);
      await jobs.stop();
      await operator.drained(tasks, 600_000);
      await settle();
      const afterJobs = operator.memory();

      log("hostile: restarting the operator (caches filled by lists)");
      await operator.stop();
      operator = new OperatorProcess(state.operatorKubeconfig!, NS);
      await operator.drained(tasks, 600_000);
      await settle();
      const restarted = operator.memory();

      // Checked from the apiserver: one Job per Task, and task.md whole (a sample).
      const listedTasks = await client.list<KubeObject>(TaskResource, NS);
      const owned = ownership(listedTasks, await client.list(JobResource, NS));
      const sample = Array.from(
        { length: Math.min(tasks, 40) },
        (_, k) => Math.floor((k * tasks) / Math.min(tasks, 40)),
      );
      let incomplete = 0;
      for (const i of sample) {
        const cm = await client.get<KubeObject>(
          ConfigMapResource,
          NS,
          configMapNameFor(`task-${i}`),
        );
        const md: string = cm?.data?.["task.md"] ?? "";
        const whole = md.includes(text(`task ${i}`, DESCRIPTION_BYTES)) &&
          (!usesContext(i) || md.includes(text(`context ${i % contexts}`, CONTEXT_BYTES)));
        if (!whole) incomplete++;
      }
      const figures = {
        contexts,
        tasks,
        idle,
        withContexts,
        afterJobs,
        restarted,
        duplicates: owned.duplicates.length,
        lost: owned.lost.length,
        incomplete,
        sampled: sample.length,
      };
      log(`hostile: ${JSON.stringify(figures)}`);
      return figures;
    } finally {
      await operator.stop();
      await transport.close();
    }
  });
}
