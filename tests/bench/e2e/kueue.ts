// The kueue case: N Tasks through the real Kueue against N without it, each on a
// fresh control plane, the operator the same process in both. Without Kueue a
// Task's Job runs as soon as it exists; with it the Job is created suspended and
// Kueue's admission unsuspends it. Both measure, from the writer's acknowledged
// create to the benchmark's watch:
// - seconds until every Job exists and until every Job is admitted (no longer
//   suspended; without Kueue the two are the same event);
// - admission latency per Task, p50 / p99;
// - the operator's API requests per Task until then and its queue is empty
//   (the audit log: the Workload watch and the Queued → Pending status writes
//   are what Kueue adds);
// - Jobs per Task (exactly one, or the case fails).
// The ClusterQueue's quota admits all N at once, so what is measured is the cost
// of the admission path, not waiting for quota. Pods are held Running by kwok.
// Through Kueue runs once per client limit asked for (--kueue-qps): Kueue's own
// default (20 requests a second, bursts of 30) and raised ones.
import type { ClusterState } from "../../../localcluster/cluster.ts";
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { Informer, objectKey } from "../../../controllers/runtime/informer.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import type { RestKubeClient } from "../../../controllers/runtime/kube.ts";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import type { ApiTransport } from "../../../controllers/runtime/transport.ts";
import type { ResourceType } from "../../../controllers/runtime/types.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import { jobNameFor } from "../../../controllers/task/names.ts";
import { adminClient, writeInParallel } from "./load.ts";
import { OperatorProcess } from "./operator_process.ts";
import { ownership } from "./ownership.ts";
import { auditedCount, log, NS, SA, seconds, withCluster } from "./bench_cluster.ts";
import { latencies, loadAverage, percentile } from "./stats.ts";

export interface KueueRun {
  tasks: number;
  jobsSeconds: number;
  admittedSeconds: number;
  /** ms from the Task's create acknowledged to its Job first seen unsuspended. */
  p50Ms: number;
  p99Ms: number;
  /** The operator's requests (audit log) from the burst until every Job was admitted and its queue was empty. */
  requests: number;
  duplicates: number;
  lost: number;
  loadBefore: number;
  loadAfter: number;
}

export interface KueueFigures {
  without: KueueRun;
  /** One run per client limit: `qps` undefined is Kueue's default. */
  through: (KueueRun & { qps?: number; burst?: number })[];
}

const kueueType = (kind: string, plural: string, namespaced: boolean): ResourceType => ({
  apiVersion: "kueue.x-k8s.io/v1beta2",
  kind,
  plural,
  namespaced,
});
const ResourceFlavor = kueueType("ResourceFlavor", "resourceflavors", false);
const ClusterQueue = kueueType("ClusterQueue", "clusterqueues", false);
const LocalQueue = kueueType("LocalQueue", "localqueues", true);

const HOLD = { "sim.kubetask.io/outcome": "hold" };
const QUEUE = "bench-q";

/** Watches the namespace's Jobs: when each was first seen, and first seen not suspended. */
class AdmissionWatch {
  readonly created = new Map<string, number>();
  readonly admitted = new Map<string, number>();
  private informer: Informer;

  constructor(transport: ApiTransport) {
    this.informer = new Informer({
      transport,
      type: JobResource,
      namespaces: [NS],
      transform: (job) => ({ metadata: job.metadata, spec: { suspend: job.spec?.suspend } }),
      log: silentLogger,
    });
    this.informer.on((type, obj) => {
      if (type === "delete") return;
      const key = objectKey(obj);
      const now = performance.now();
      if (!this.created.has(key)) this.created.set(key, now);
      if (obj.spec?.suspend !== true && !this.admitted.has(key)) this.admitted.set(key, now);
    });
    this.informer.start();
  }

  synced(): Promise<void> {
    return this.informer.synced;
  }

  async reached(n: number, of: Map<string, number>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (of.size < n) {
      if (Date.now() > deadline) throw new Error(`only ${of.size}/${n} Jobs`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** A flavor, a ClusterQueue whose CPU quota admits every Task at once, and the LocalQueue. */
async function createQueues(c: RestKubeClient, tasks: number): Promise<void> {
  await c.create(ResourceFlavor, { metadata: { name: "bench-flavor" } });
  await c.create(ClusterQueue, {
    metadata: { name: "bench-cq" },
    spec: {
      namespaceSelector: {},
      resourceGroups: [{
        coveredResources: ["cpu"],
        flavors: [{ name: "bench-flavor", resources: [{ name: "cpu", nominalQuota: tasks }] }],
      }],
    },
  });
  await c.create(LocalQueue, {
    metadata: { name: QUEUE, namespace: NS },
    spec: { clusterQueue: "bench-cq" },
  });
  // Kueue admits nothing until the ClusterQueue is Active.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const cq = await c.get(ClusterQueue, "", "bench-cq");
    const conditions: { type: string; status: string }[] = cq?.status?.conditions ?? [];
    const active = conditions.find((x) => x.type === "Active");
    if (active?.status === "True") return;
    if (Date.now() > deadline) throw new Error("ClusterQueue bench-cq not Active in 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function run(state: ClusterState, tasks: number, writers: number, kueue: boolean) {
  const { client, transport } = await adminClient(state.kubeconfig);
  let operator: OperatorProcess | undefined;
  try {
    await applyCrds(client, ourCrds(), silentLogger);
    if (kueue) await createQueues(client, tasks);
    await client.create(AgentResource, {
      metadata: { name: "default", namespace: NS },
      spec: {
        agentImage: "example.test/agent:1",
        serviceAccountName: SA,
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: HOLD },
        ...(kueue ? { queueName: QUEUE } : {}),
      },
    });
    operator = new OperatorProcess(state.operatorKubeconfig!, NS, [
      `--kueue=${kueue ? "true" : "false"}`,
    ]);
    await operator.ready();
    const watch = new AdmissionWatch(transport);
    await watch.synced();
    const before = await auditedCount(state);
    const acked = new Map<string, number>();
    log(`${kueue ? "through Kueue" : "without Kueue"}: ${tasks} Tasks`);
    const loadBefore = await loadAverage();
    const t0 = performance.now();
    await writeInParallel(writers, tasks, async (i) => {
      const name = `task-${i}`;
      await client.create(TaskResource, {
        metadata: { name, namespace: NS },
        spec: { description: `Task number ${i}` },
      });
      acked.set(`${NS}/${jobNameFor(name)}`, performance.now());
    });
    await watch.reached(tasks, watch.created, 1_800_000);
    const jobsSeconds = seconds(t0);
    await watch.reached(tasks, watch.admitted, 1_800_000);
    const admittedSeconds = seconds(t0);
    const loadAfter = await loadAverage();
    const lat = latencies(acked, watch.admitted);
    await watch.stop();
    // The status writes that follow admission (Queued → Pending/Running) count too.
    await operator.drained(tasks, 1_800_000);
    await new Promise((r) => setTimeout(r, 3000));
    const requests = (await auditedCount(state)) - before;
    const own = ownership(
      await client.list(TaskResource, NS),
      await client.list(JobResource, NS),
    );
    return {
      tasks,
      jobsSeconds,
      admittedSeconds,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      requests,
      duplicates: own.duplicates.length,
      lost: own.lost.length,
      loadBefore,
      loadAfter,
    };
  } finally {
    await operator?.stop();
    await transport.close();
  }
}

/**
 * The same burst without Kueue, then through it once per entry of `qpsList`
 * (undefined: Kueue's default client limits; a number: that qps, bursts of 1.5x).
 */
export async function kueueCase(
  tasks: number,
  writers: number,
  qpsList: (number | undefined)[] = [undefined],
): Promise<KueueFigures> {
  const without = await withCluster("kueue-off", (s) => run(s, tasks, writers, false));
  log(`without Kueue: ${JSON.stringify(without)}`);
  const through: KueueFigures["through"] = [];
  for (const qps of qpsList) {
    const burst = qps === undefined ? undefined : Math.ceil(qps * 1.5);
    const kueue = qps === undefined ? true : { clientQps: qps, clientBurst: burst };
    const r = await withCluster("kueue-on", (s) => run(s, tasks, writers, true), { kueue });
    log(`through Kueue (client qps ${qps ?? "default"}): ${JSON.stringify(r)}`);
    through.push({ ...r, qps, burst });
  }
  return { without, through };
}
