// The scale case: Tasks across many namespaces, Agents (some with a limit) and
// kwok nodes, at several sizes, each against a floor measured on the same
// kind of control plane in the same run. For each size, two fresh clusters:
// - floor: the writers create each Task's ConfigMap and Job directly;
// - operator: the operator runs cluster-wide and the writers create Tasks.
// Both measure seconds until every Job exists, seen by the benchmark's own
// watch. Pods are held Running by kwok (sim.kubetask.io/outcome: hold) in both,
// so the control plane does the same work downstream of the Jobs.
//
// Latency, per Task: from its create being acknowledged to the writer to its
// Job's first watch event at the benchmark (both on the benchmark's clock, in
// ms; creationTimestamps have 1 s resolution).
import type { ClusterState } from "../../../localcluster/cluster.ts";
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource, JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { ResourceType } from "../../../controllers/runtime/types.ts";
import type { RestKubeClient } from "../../../controllers/runtime/kube.ts";
import { jobNameFor } from "../../../controllers/task/names.ts";
import { adminClient, JobCounter, writeInParallel } from "./load.ts";
import { type Memory, OperatorProcess } from "./operator_process.ts";
import {
  auditedCount,
  createNamespaces,
  floorJob,
  log,
  SA,
  seconds,
  withCluster,
} from "./bench_cluster.ts";
import { cpuDelta, cpuSeconds, latencies, loadAverage, percentile } from "./stats.ts";

export interface ScaleOptions {
  namespaces: number;
  /** Distinct Agents; namespace n has Agent `agent-<n mod agents>`. */
  agents: number;
  /** The first this many Agents have maxConcurrentTasks = agentLimit. */
  limitedAgents: number;
  agentLimit: number;
  /** kwok nodes in all (the control plane comes with one). */
  nodes: number;
  writers: number;
}

export interface ScaleRun {
  tasks: number;
  seconds: number;
  /** ms from the Task's (or ConfigMap's) create acknowledged to its Job first seen. */
  p50Ms: number;
  p99Ms: number;
  /** Load average (1 min) when the burst started and when the last Job appeared. */
  loadBefore: number;
  loadAfter: number;
  /** CPU seconds each process used during the burst (who the 2 cores worked for). */
  cpu: Record<string, number>;
}

/** CPU seconds so far of the control plane's processes, the benchmark and the operator. */
function cpuNow(state: ClusterState, operator?: OperatorProcess): Record<string, number> {
  const of = (component: string) => cpuSeconds(state.processes[component]?.pid ?? -1);
  return {
    apiserver: of("kube-apiserver"),
    etcd: of("etcd"),
    "controller-manager": of("kube-controller-manager"),
    scheduler: of("kube-scheduler"),
    kwok: of("kwok"),
    bench: cpuSeconds(Deno.pid),
    ...(operator ? { operator: cpuSeconds(operator.pid) } : {}),
  };
}

export interface OperatorScaleRun extends ScaleRun {
  /** Latency p50 / p99 (ms) of the Tasks whose Agent has a limit, and of the others. */
  limited: { p50Ms: number; p99Ms: number };
  unlimited: { p50Ms: number; p99Ms: number };
  requestsUntilJobs: number;
  /** Peak while the Jobs were made, and RSS with every Task cached once the queue was empty. */
  memory: Memory;
}

export interface ScaleFigures {
  floor: ScaleRun;
  operator: OperatorScaleRun;
}

const NodeResource: ResourceType = {
  apiVersion: "v1",
  kind: "Node",
  plural: "nodes",
  namespaced: false,
};

const HOLD = { "sim.kubetask.io/outcome": "hold" };
const nsOf = (i: number, opts: ScaleOptions) => `scale-${i % opts.namespaces}`;
const agentOf = (n: number, opts: ScaleOptions) => `agent-${n % opts.agents}`;
const taskName = (i: number) => `task-${i}`;

/** Namespaces (with the agents' ServiceAccount) and kwok nodes up to `opts.nodes`. */
async function prepare(state: ClusterState, client: RestKubeClient, opts: ScaleOptions) {
  const names = Array.from({ length: opts.namespaces }, (_, n) => `scale-${n}`);
  await createNamespaces(state, names);
  await writeInParallel(opts.writers, opts.nodes - 1, async (i) => {
    const name = `kwok-node-${i + 1}`;
    await client.create(NodeResource, {
      metadata: {
        name,
        annotations: { "kwok.x-k8s.io/node": "fake" },
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", type: "kwok" },
      },
    });
    // Admission taints a new node not-ready; nothing here lifts it (see localcluster).
    await client.patch(NodeResource, "", name, { spec: { taints: null } });
  });
  return names;
}

/** Waits for `tasks` Jobs; returns seconds since t0 and the latency percentiles. */
async function measureJobs(
  jobs: JobCounter,
  acked: Map<string, number>,
  tasks: number,
  t0: number,
) {
  await jobs.reached(tasks, 3_600_000);
  const s = seconds(t0);
  const loadAfter = await loadAverage();
  const lat = latencies(acked, jobs.firstSeen);
  if (lat.length !== tasks) throw new Error(`${lat.length}/${tasks} Jobs matched their Task`);
  return { seconds: s, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), loadAfter };
}

async function floorRun(tasks: number, opts: ScaleOptions): Promise<ScaleRun> {
  return await withCluster(`scale-floor-${tasks}`, async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    try {
      await prepare(state, client, opts);
      const jobs = new JobCounter(transport, []);
      await jobs.synced();
      const acked = new Map<string, number>();
      log(`floor: ${tasks} ConfigMaps + Jobs over ${opts.namespaces} namespaces`);
      const loadBefore = await loadAverage();
      const cpu0 = cpuNow(state);
      const t0 = performance.now();
      await writeInParallel(opts.writers, tasks, async (i) => {
        const namespace = nsOf(i, opts);
        const job = floorJob(jobNameFor(taskName(i)), namespace, HOLD);
        await client.create(ConfigMapResource, {
          metadata: { name: `${job.metadata!.name}-context`, namespace },
          data: { "task.md": `Task number ${i}\n` },
        });
        acked.set(`${namespace}/${job.metadata!.name}`, performance.now());
        await client.create(JobResource, job);
      });
      const measured = await measureJobs(jobs, acked, tasks, t0);
      const cpu = cpuDelta(cpu0, cpuNow(state));
      await jobs.stop();
      return { tasks, loadBefore, ...measured, cpu };
    } finally {
      await transport.close();
    }
  });
}

async function operatorRun(tasks: number, opts: ScaleOptions): Promise<OperatorScaleRun> {
  return await withCluster(`scale-op-${tasks}`, async (state) => {
    const { client, transport } = await adminClient(state.kubeconfig);
    let operator: OperatorProcess | undefined;
    try {
      await applyCrds(client, ourCrds(), silentLogger);
      const namespaces = await prepare(state, client, opts);
      await writeInParallel(opts.writers, namespaces.length, async (n) => {
        const a = n % opts.agents;
        await client.create(AgentResource, {
          metadata: { name: agentOf(n, opts), namespace: namespaces[n] },
          spec: {
            agentImage: "example.test/agent:1",
            serviceAccountName: SA,
            podSpec: { labels: HOLD },
            ...(a < opts.limitedAgents ? { maxConcurrentTasks: opts.agentLimit } : {}),
          },
        });
      });
      operator = new OperatorProcess(state.operatorKubeconfig!, ""); // cluster-wide
      await operator.ready();
      const jobs = new JobCounter(transport, []);
      await jobs.synced();
      const before = await auditedCount(state);
      const acked = new Map<string, number>();
      log(`operator: ${tasks} Tasks over ${opts.namespaces} namespaces`);
      const loadBefore = await loadAverage();
      const cpu0 = cpuNow(state, operator);
      const t0 = performance.now();
      await writeInParallel(opts.writers, tasks, async (i) => {
        const namespace = nsOf(i, opts);
        await client.create(TaskResource, {
          metadata: { name: taskName(i), namespace },
          spec: {
            description: `Task number ${i}`,
            agentRef: agentOf(i % opts.namespaces, opts),
          },
        });
        acked.set(`${namespace}/${jobNameFor(taskName(i))}`, performance.now());
      });
      const measured = await measureJobs(jobs, acked, tasks, t0);
      const cpu = cpuDelta(cpu0, cpuNow(state, operator));
      const requestsUntilJobs = (await auditedCount(state)) - before;
      // The same latencies split by whether the Task's Agent has a limit (its admission lock).
      const limitedKeys = new Set(
        Array.from({ length: tasks }, (_, i) => i)
          .filter((i) => (i % opts.namespaces) % opts.agents < opts.limitedAgents)
          .map((i) => `${nsOf(i, opts)}/${jobNameFor(taskName(i))}`),
      );
      const split = (limited: boolean) => {
        const lat = latencies(
          new Map([...acked].filter(([k]) => limitedKeys.has(k) === limited)),
          jobs.firstSeen,
        );
        return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
      };
      const limited = split(true);
      const unlimited = split(false);
      await jobs.stop();
      // Every Task cached, the Pending and Running status writes done.
      await operator.drained(tasks, 1_800_000);
      await new Promise((r) => setTimeout(r, 3000));
      return {
        tasks,
        loadBefore,
        ...measured,
        limited,
        unlimited,
        cpu,
        requestsUntilJobs,
        memory: operator.memory(),
      };
    } finally {
      await operator?.stop();
      await transport.close();
    }
  });
}

/** Floor and operator at each size, smallest first. */
export async function scaleCase(
  sizes: number[],
  opts: ScaleOptions,
): Promise<ScaleFigures[]> {
  const out: ScaleFigures[] = [];
  for (const tasks of sizes) {
    const floor = await floorRun(tasks, opts);
    log(`floor ${tasks}: ${JSON.stringify(floor)}`); // kept should a later size fail
    const operator = await operatorRun(tasks, opts);
    log(`operator ${tasks}: ${JSON.stringify(operator)}`);
    out.push({ floor, operator });
  }
  return out;
}
