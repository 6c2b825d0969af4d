// The end-to-end benchmark (`deno task bench` runs it after the micro
// benchmarks): the operator on a fresh local control plane, reported as
// ratios against a floor measured in the same run, with the machine noted.
//
//   deno run -A tests/bench/e2e/run.ts [--tasks 1000] [--writers 4] [--cached 10000]
//
// Cases, each on a fresh control plane that is torn down afterwards:
// - floor: writers create N ConfigMaps + N Jobs directly; seconds until N Jobs exist.
// - burst: the operator running, writers create N Tasks; seconds until N Jobs exist,
//   API requests per Task, memory idle and at peak.
// - restart: with those N Tasks finished, the operator restarts; API requests
//   until its queue is empty, and seconds from spawn until then.
// - cached (with --cached M): memory with M finished Tasks and their Jobs cached.
//
// The operator's requests are counted by the apiserver itself: it runs as its
// own user and the apiserver audit-logs only that user (operator_identity.ts).
import { parseArgs } from "node:util";
import { type ClusterState, down, up } from "../../../localcluster/cluster.ts";
import { auditedRequests, auditLogPath } from "../../../localcluster/operator_identity.ts";
import { applyCrds, ourCrds } from "../../../controllers/runtime/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import {
  AgentResource,
  ConfigMapResource,
  JobResource,
  TaskResource,
} from "../../../controllers/runtime/resources.ts";
import type { KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";
import { adminClient, JobCounter, until, writeInParallel } from "./load.ts";
import { type Memory, OperatorProcess } from "./operator_process.ts";
import { sumOf } from "./prometheus.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tasks: { type: "string", default: "1000" },
    writers: { type: "string", default: "4" },
    cached: { type: "string", default: "0" },
  },
});
const N = Number(values.tasks);
const WRITERS = Number(values.writers);
const CACHED = Number(values.cached);
const NS = "bench";
const SA = "agent-sa";

const NamespaceResource: ResourceType = {
  apiVersion: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
};
const ServiceAccountResource: ResourceType = {
  apiVersion: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  namespaced: true,
};

const seconds = (since: number) => (performance.now() - since) / 1000;
const log = (msg: string) => console.error(`[bench] ${msg}`);

async function machine(): Promise<string> {
  const mem = (await Deno.readTextFile("/proc/meminfo")).match(/MemTotal:\s+(\d+)/)?.[1];
  const kernel = (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim();
  return `${navigator.hardwareConcurrency} cores, ${Math.round(Number(mem) / 1048576)} GiB, ` +
    `Linux ${kernel}, Deno ${Deno.version.deno}, ${new Date().toISOString()}`;
}

/** A fresh control plane with the bench namespace and its ServiceAccount. */
async function withCluster<T>(name: string, fn: (state: ClusterState) => Promise<T>): Promise<T> {
  log(`starting control plane ${name}`);
  const state = await up(name, { auditedOperator: true, realNode: false });
  try {
    const { client, transport } = await adminClient(state.kubeconfig);
    await client.create(NamespaceResource, { metadata: { name: NS } });
    await client.create(ServiceAccountResource, { metadata: { name: SA, namespace: NS } });
    await transport.close();
    return await fn(state);
  } finally {
    await down(name);
  }
}

/** Requests the operator sent, as the apiserver's audit log counts them. */
async function auditedCount(state: ClusterState): Promise<number> {
  const text = await Deno.readTextFile(auditLogPath(state.dir)).catch(() => "");
  return auditedRequests(text).length;
}

function job(i: number): KubeObject {
  return {
    metadata: { name: `job-${i}`, namespace: NS, labels: { "kubetask.io/task": `job-${i}` } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { "kubetask.io/task": `job-${i}` } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: SA,
          containers: [{
            name: "agent",
            image: "example.test/agent:1",
            volumeMounts: [{ name: "ctx", mountPath: "/workspace/task.md", subPath: "task.md" }],
          }],
          volumes: [{ name: "ctx", configMap: { name: `job-${i}-context` } }],
        },
      },
    },
  };
}

async function floorCase(): Promise<number> {
  return await withCluster("bench-floor", async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    const jobs = new JobCounter(transport, NS);
    await jobs.synced();
    const t0 = performance.now();
    await writeInParallel(WRITERS, N, async (i) => {
      await client.create(ConfigMapResource, {
        metadata: { name: `job-${i}-context`, namespace: NS },
        data: { "task.md": "hello\n" },
      });
      await client.create(JobResource, job(i));
    });
    await jobs.reached(N, 600_000);
    const s = seconds(t0);
    await jobs.stop();
    await transport.close();
    return s;
  });
}

interface OperatorFigures {
  jobsSeconds: number;
  requestsUntilJobs: number;
  requestsThroughCompletion: number;
  selfCounted: number;
  idle: Memory;
  afterBurst: Memory;
  restartRequests: number;
  restartSeconds: number;
  restartIdle: Memory;
}

async function operatorCase(): Promise<OperatorFigures> {
  return await withCluster("bench-operator", async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    await applyCrds(client, ourCrds(), silentLogger);
    await client.create(AgentResource, {
      metadata: { name: "default", namespace: NS },
      spec: { agentImage: "example.test/agent:1", serviceAccountName: SA },
    });
    let operator = new OperatorProcess(state.operatorKubeconfig!, NS);
    try {
      await operator.ready();
      await new Promise((r) => setTimeout(r, 2000));
      const idle = operator.memory();
      const before = await auditedCount(state);
      const jobs = new JobCounter(transport, NS);
      await jobs.synced();

      log(`creating ${N} Tasks with ${WRITERS} writers`);
      const t0 = performance.now();
      await writeInParallel(WRITERS, N, (i) =>
        client.create(TaskResource, {
          metadata: { name: `task-${i}`, namespace: NS },
          spec: { description: `Task number ${i}` },
        }));
      await jobs.reached(N, 600_000);
      const jobsSeconds = seconds(t0);
      const requestsUntilJobs = (await auditedCount(state)) - before;
      await jobs.stop();

      log("waiting for every Task to finish");
      await until(
        client,
        TaskResource,
        NS,
        (tasks) => tasks.filter((t) => t.status?.phase === "Completed").length >= N,
        1_200_000,
      );
      // Let the last Events and status writes land.
      await operator.drained(N);
      await new Promise((r) => setTimeout(r, 2000));
      const requestsThroughCompletion = (await auditedCount(state)) - before;
      const selfCounted = sumOf(await operator.metrics(), "kubetask_api_requests_total");
      const afterBurst = operator.memory();
      await operator.stop();

      log("restarting the operator");
      const beforeRestart = await auditedCount(state);
      operator = new OperatorProcess(state.operatorKubeconfig!, NS);
      const restartSeconds = await operator.drained(N);
      const restartRequests = (await auditedCount(state)) - beforeRestart;
      await new Promise((r) => setTimeout(r, 1000));
      const restartIdle = operator.memory();
      return {
        jobsSeconds,
        requestsUntilJobs,
        requestsThroughCompletion,
        selfCounted,
        idle,
        afterBurst,
        restartRequests,
        restartSeconds,
        restartIdle,
      };
    } finally {
      await operator.stop();
      await transport.close();
    }
  });
}

/** Memory with `count` finished Tasks and their Jobs (suspended: no pods) cached. */
async function cachedCase(count: number): Promise<Memory> {
  return await withCluster("bench-cached", async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    await applyCrds(client, ourCrds(), silentLogger);
    log(`creating ${count} finished Tasks and their Jobs`);
    const finished = "2030-01-01T00:00:00Z";
    await writeInParallel(WRITERS * 2, count, async (i) => {
      const task = await client.create<KubeObject>(TaskResource, {
        metadata: { name: `done-${i}`, namespace: NS },
        spec: { description: `Task number ${i}, long finished` },
      });
      await client.updateStatus(TaskResource, {
        ...task,
        status: {
          phase: "Completed",
          jobName: `done-${i}`,
          startTime: finished,
          completionTime: finished,
          conditions: [{
            type: "Succeeded",
            status: "True",
            reason: "JobSucceeded",
            message: `Job "done-${i}" succeeded`,
            lastTransitionTime: finished,
          }],
        },
      });
      const j = job(i);
      j.metadata!.name = `done-${i}`;
      j.metadata!.ownerReferences = [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        name: `done-${i}`,
        uid: task.metadata!.uid!,
        controller: true,
      }];
      j.spec.suspend = true;
      await client.create(JobResource, j);
    });
    await transport.close();
    const operator = new OperatorProcess(state.operatorKubeconfig!, NS);
    try {
      await operator.drained(count, 300_000);
      await new Promise((r) => setTimeout(r, 3000));
      return operator.memory();
    } finally {
      await operator.stop();
    }
  });
}

function table(rows: [string, string, string, string][]): string {
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

const mem = (m: Memory) => `${m.rssMiB} MiB (anon ${m.anonMiB}, file ${m.fileMiB})`;

const about = await machine();
const floor = await floorCase();
const op = await operatorCase();
const cached = CACHED > 0 ? await cachedCase(CACHED) : undefined;
const goOperator = Deno.env.get("KUBETASK_BENCH_GO_OPERATOR");

console.log(`\nKubeTask end-to-end benchmark: ${N} Tasks, ${WRITERS} writers`);
console.log(`machine: ${about}`);
console.log(table([
  ["metric", "value", "target", "ratio / verdict"],
  [`floor: ${N} ConfigMaps + ${N} Jobs written directly`, `${floor.toFixed(1)} s`, "", "1.0x"],
  [
    `operator: ${N} Tasks → ${N} Jobs`,
    `${op.jobsSeconds.toFixed(1)} s`,
    "≤ 3x floor",
    `${(op.jobsSeconds / floor).toFixed(2)}x`,
  ],
  [
    "API requests per Task (audit log), until the Jobs exist",
    (op.requestsUntilJobs / N).toFixed(2),
    "",
    "",
  ],
  [
    "API requests per Task (audit log), through completion",
    (op.requestsThroughCompletion / N).toFixed(2),
    "",
    `operator's own count ${(op.selfCounted / N).toFixed(2)}`,
  ],
  ["RSS idle (caches synced, no Tasks)", mem(op.idle), "≤ 64 MiB", ""],
  [
    `RSS after ${N} Tasks completed (peak)`,
    `${mem(op.afterBurst)}, peak ${op.afterBurst.peakMiB}`,
    "",
    "",
  ],
  [
    `restart with ${N} finished Tasks: API requests`,
    String(op.restartRequests),
    "≤ 20",
    op.restartRequests <= 20 ? "met" : "missed",
  ],
  [
    `restart: seconds from spawn to an empty queue`,
    op.restartSeconds.toFixed(2),
    "< 2 s",
    op.restartSeconds < 2 ? "met" : "missed",
  ],
  [`RSS after the restart (${N} Tasks cached)`, mem(op.restartIdle), "", ""],
  ...(cached
    ? [[`RSS with ${CACHED} finished Tasks + Jobs cached`, mem(cached), "≤ 150 MiB", ""] as [
      string,
      string,
      string,
      string,
    ]]
    : []),
]));
console.log(
  goOperator
    ? `Go operator at ${goOperator}: side-by-side runs are not implemented yet.`
    : "Go operator: not run (set KUBETASK_BENCH_GO_OPERATOR to a build of it).",
);
