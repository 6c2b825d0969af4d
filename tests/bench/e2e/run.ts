// The end-to-end benchmark (`deno task bench` runs it after the micro
// benchmarks): the operator on a fresh local control plane, reported as
// ratios against a floor measured in the same run, with the machine noted.
//
//   deno run -A tests/bench/e2e/run.ts [--tasks 1000] [--writers 4] [--cached 10000]
//     [--cases floor,operator,apf,scale,hostile,kueue] [--scale-sizes 1000,3000,10000]
//     [--kueue-qps default,200]
//     [--namespaces 100] [--agents 20] [--limited-agents 5] [--agent-limit 1000] [--nodes 50]
//     [--hostile-contexts 1000] [--hostile-tasks 1000]
//
// Cases, each on a fresh control plane that is torn down afterwards:
// - floor: writers create N ConfigMaps + N Jobs directly; seconds until N Jobs exist.
// - burst: the operator running, writers create N Tasks; seconds until N Jobs exist,
//   API requests per Task, memory idle and at peak.
// - restart: with those N Tasks finished, the operator restarts; API requests
//   until its queue is empty, and seconds from spawn until then.
// - cached (with --cached M): memory with M finished Tasks and their Jobs cached.
// - apf: the burst with the operator's user on a small priority level of its own
//   (apf.ts): 429s met, seconds until N Jobs exist, and exactly one Job per Task.
// - scale (not run unless named in --cases; long): at each of --scale-sizes, a floor
//   and the operator cluster-wide over --namespaces namespaces, --agents Agents and
//   --nodes kwok nodes (scale.ts): throughput, latency p50/p99, requests per Task,
//   RSS with every Task cached, and the cost curve (time per Task at each size).
// - kueue (not run unless named; needs the Kueue build): N Tasks through the real
//   Kueue against N without it (kueue.ts): seconds until every Job is admitted,
//   admission latency p50/p99, API requests per Task, Jobs per Task; through Kueue
//   once per --kueue-qps entry (Kueue's client limit; "default" is Kueue's own, 20).
// - hostile (not run unless named): Inline Contexts of 256 KiB and Tasks with 200 KiB
//   descriptions (hostile.ts): RSS with them cached, after the Jobs, after a restart.
//
// KUBETASK_BENCH_CLUSTER prefixes the clusters' names (default "bench").
// KUBETASK_BENCH_V8_FLAGS replaces the operator's V8 flags (operator_process.ts).
//
// The operator's requests are counted by the apiserver itself: it runs as its
// own user and the apiserver audit-logs only that user (operator_identity.ts).
import { parseArgs } from "node:util";
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource, JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { adminClient, JobCounter, until, writeInParallel, writeTasks } from "./load.ts";
import { apfCase } from "./apf.ts";
import { type Memory, OperatorProcess } from "./operator_process.ts";
import { sumOf } from "./prometheus.ts";
import {
  audited,
  auditedCount,
  floorJob,
  log,
  machine,
  NS,
  requestsByKind,
  restartVerdict,
  SA,
  seconds,
  withCluster,
} from "./bench_cluster.ts";
import { scaleCase } from "./scale.ts";
import { hostileCase } from "./hostile.ts";
import { kueueCase } from "./kueue.ts";
import { loadAverage } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tasks: { type: "string", default: "1000" },
    writers: { type: "string", default: "4" },
    cached: { type: "string", default: "0" },
    cases: { type: "string", default: "floor,operator,apf" },
    "scale-sizes": { type: "string", default: "1000,3000,10000" },
    namespaces: { type: "string", default: "100" },
    agents: { type: "string", default: "20" },
    "limited-agents": { type: "string", default: "5" },
    "agent-limit": { type: "string", default: "1000" },
    nodes: { type: "string", default: "50" },
    "hostile-contexts": { type: "string", default: "1000" },
    "hostile-tasks": { type: "string", default: "1000" },
    "kueue-qps": { type: "string", default: "default" },
  },
});
const N = Number(values.tasks);
const WRITERS = Number(values.writers);
const CACHED = Number(values.cached);
const CASES = new Set(values.cases.split(","));
const KUEUE_QPS = values["kueue-qps"].split(",").map((q) => {
  if (q === "default") return undefined;
  const n = Number(q);
  if (!(n > 0)) throw new Error(`--kueue-qps: "${q}" is neither "default" nor a number > 0`);
  return n;
});

const job = (i: number): KubeObject => floorJob(`job-${i}`, NS);

async function floorCase(): Promise<number> {
  return await withCluster("floor", async (state) => {
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
  /** What the restart asked: "verb resource" → how many times. */
  restartByKind: Map<string, number>;
  restartSeconds: number;
  restartIdle: Memory;
}

async function operatorCase(): Promise<OperatorFigures> {
  return await withCluster("operator", async (state) => {
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
      await writeTasks(client, WRITERS, N, NS);
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
      const restarted = (await audited(state)).slice(beforeRestart);
      const restartRequests = restarted.length;
      const restartByKind = requestsByKind(restarted);
      log(`restart asked: ${[...restartByKind].map(([k, n]) => `${k} x${n}`).join(", ")}`);
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
        restartByKind,
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
  return await withCluster("cached", async (state) => {
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

function table(rows: string[][]): string {
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

const mem = (m: Memory) => `${m.rssMiB} MiB (anon ${m.anonMiB}, file ${m.fileMiB})`;

const about = await machine();
const loadAtStart = await loadAverage();
const SCALE = {
  sizes: values["scale-sizes"].split(",").map(Number),
  namespaces: Number(values.namespaces),
  agents: Number(values.agents),
  limitedAgents: Number(values["limited-agents"]),
  agentLimit: Number(values["agent-limit"]),
  nodes: Number(values.nodes),
  writers: WRITERS,
};
const scale = CASES.has("scale") ? await scaleCase(SCALE.sizes, SCALE) : undefined;
const hostile = CASES.has("hostile")
  ? await hostileCase(
    Number(values["hostile-contexts"]),
    Number(values["hostile-tasks"]),
    WRITERS,
  )
  : undefined;
const kueue = CASES.has("kueue") ? await kueueCase(N, WRITERS, KUEUE_QPS) : undefined;
const floor = CASES.has("floor") ? await floorCase() : undefined;
const op = CASES.has("operator") ? await operatorCase() : undefined;
const cached = CACHED > 0 ? await cachedCase(CACHED) : undefined;
const apf = CASES.has("apf") ? await apfCase(N, WRITERS) : undefined;
const goOperator = Deno.env.get("KUBETASK_BENCH_GO_OPERATOR");

type Row = [string, string, string, string];
const rows: Row[] = [["metric", "value", "target", "ratio / verdict"]];
if (floor !== undefined) {
  rows.push([
    `floor: ${N} ConfigMaps + ${N} Jobs written directly`,
    `${floor.toFixed(1)} s`,
    "",
    "1.0x",
  ]);
}
if (op) {
  rows.push(
    [
      `operator: ${N} Tasks → ${N} Jobs`,
      `${op.jobsSeconds.toFixed(1)} s`,
      "≤ 3x floor",
      floor ? `${(op.jobsSeconds / floor).toFixed(2)}x` : "",
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
      "a list and a watch per kind",
      restartVerdict(op.restartByKind),
    ],
    [
      `restart: seconds from spawn to an empty queue`,
      op.restartSeconds.toFixed(2),
      "< 2 s",
      op.restartSeconds < 2 ? "met" : "missed",
    ],
    [`RSS after the restart (${N} Tasks cached)`, mem(op.restartIdle), "", ""],
  );
}
if (cached) {
  rows.push([`RSS with ${CACHED} finished Tasks + Jobs cached`, mem(cached), "≤ 150 MiB", ""]);
}
if (apf) {
  rows.push(
    [
      `APF, small priority level: ${N} Tasks → ${N} Jobs`,
      `${apf.jobsSeconds.toFixed(1)} s`,
      "",
      op ? `${(apf.jobsSeconds / op.jobsSeconds).toFixed(2)}x the unthrottled burst` : "",
    ],
    [
      "APF: 429s sent to the operator (audit log) / seen by it (metrics)",
      `${apf.refusedAudited} / ${apf.refusedSeen}`,
      "> 0",
      apf.refusedAudited > 0 ? "met" : "missed: no 429, the level is not small enough",
    ],
    [
      "APF: API requests per Task until the queue is empty (audit log)",
      (apf.requests / N).toFixed(2),
      "",
      "",
    ],
    [
      "APF: Tasks with two Jobs / with none",
      `${apf.duplicates} / ${apf.lost}`,
      "0 / 0",
      apf.duplicates + apf.lost === 0 ? "met" : "MISSED",
    ],
  );
}

if (scale) {
  const perTask = (s: number, n: number) => (s / n) * 1000;
  const first = scale[0];
  rows.push([
    `scale: ${SCALE.namespaces} namespaces, ${SCALE.agents} Agents (${SCALE.limitedAgents} with ` +
    `maxConcurrentTasks ${SCALE.agentLimit}), ${SCALE.nodes} kwok nodes, pods held Running`,
    "",
    "",
    "",
  ]);
  for (const { floor: f, operator: o } of scale) {
    const n = o.tasks;
    rows.push(
      [
        `scale ${n}: floor, ConfigMaps + Jobs written directly`,
        `${f.seconds.toFixed(1)} s, ${(n / f.seconds).toFixed(0)} Jobs/s`,
        "",
        `load ${f.loadBefore.toFixed(1)} → ${f.loadAfter.toFixed(1)}`,
      ],
      [
        `scale ${n}: operator, Tasks → Jobs`,
        `${o.seconds.toFixed(1)} s, ${(n / o.seconds).toFixed(0)} Tasks/s`,
        "≤ 3x floor (aim 2x)",
        `${(o.seconds / f.seconds).toFixed(2)}x; load ${o.loadBefore.toFixed(1)} → ${
          o.loadAfter.toFixed(1)
        }`,
      ],
      [
        `scale ${n}: latency create → Job seen, p50 / p99 (floor)`,
        `${(o.p50Ms / 1000).toFixed(2)} / ${(o.p99Ms / 1000).toFixed(2)} s`,
        "",
        `floor ${(f.p50Ms / 1000).toFixed(2)} / ${(f.p99Ms / 1000).toFixed(2)} s`,
      ],
      [
        `scale ${n}: latency p50 / p99, Tasks of limited Agents / of the others`,
        `${(o.limited.p50Ms / 1000).toFixed(2)} / ${(o.limited.p99Ms / 1000).toFixed(2)} s`,
        "",
        `others ${(o.unlimited.p50Ms / 1000).toFixed(2)} / ${
          (o.unlimited.p99Ms / 1000).toFixed(2)
        } s`,
      ],
      [
        `scale ${n}: CPU seconds during the burst, operator run (floor run)`,
        Object.entries(o.cpu).map(([k, v]) => `${k} ${v}`).join(", "),
        "",
        `(${Object.entries(f.cpu).map(([k, v]) => `${k} ${v}`).join(", ")})`,
      ],
      [
        `scale ${n}: API requests per Task (audit log), until the Jobs exist`,
        (o.requestsUntilJobs / n).toFixed(2),
        "",
        "",
      ],
      [
        `scale ${n}: RSS with ${n} Tasks cached, queue empty (peak)`,
        `${mem(o.memory)}, peak ${o.memory.peakMiB}`,
        n >= 10_000 ? "≤ 150 MiB" : "",
        n >= 10_000 ? (o.memory.rssMiB <= 150 ? "met" : "missed") : "",
      ],
      [
        `scale ${n}: time per Task, operator (floor)`,
        `${perTask(o.seconds, n).toFixed(2)} ms (${perTask(f.seconds, n).toFixed(2)} ms)`,
        n === first.operator.tasks ? "" : `≤ 1.3x at ${first.operator.tasks}`,
        n === first.operator.tasks
          ? ""
          : `${
            (perTask(o.seconds, n) / perTask(first.operator.seconds, first.operator.tasks))
              .toFixed(2)
          }x (floor ${
            (perTask(f.seconds, n) / perTask(first.floor.seconds, first.floor.tasks)).toFixed(2)
          }x)`,
      ],
    );
  }
}
if (kueue) {
  const o = kueue.without;
  const lat = (r: typeof o) => `${(r.p50Ms / 1000).toFixed(2)} / ${(r.p99Ms / 1000).toFixed(2)} s`;
  for (const k of kueue.through) {
    const via = `through Kueue, client qps ${k.qps ? `${k.qps} burst ${k.burst}` : "20 (default)"}`;
    rows.push(
      [
        `kueue: ${N} Tasks → Jobs admitted, ${via} (without)`,
        `${k.admittedSeconds.toFixed(1)} s (${o.admittedSeconds.toFixed(1)} s)`,
        "",
        `${(k.admittedSeconds / o.admittedSeconds).toFixed(2)}x; Jobs created in ${
          k.jobsSeconds.toFixed(1)
        } s (${o.jobsSeconds.toFixed(1)} s)`,
      ],
      [
        `kueue: latency create → Job admitted, p50 / p99, ${via} (without)`,
        lat(k),
        "",
        `(${lat(o)})`,
      ],
      [
        `kueue: API requests per Task (audit log), until admitted and the queue empty, ${via} (without)`,
        `${(k.requests / N).toFixed(2)} (${(o.requests / N).toFixed(2)})`,
        "",
        `${(k.requests / o.requests).toFixed(2)}x; load ${k.loadBefore.toFixed(1)} → ${
          k.loadAfter.toFixed(1)
        }`,
      ],
      [
        `kueue: Tasks with two Jobs / with none, ${via} (without)`,
        `${k.duplicates} / ${k.lost} (${o.duplicates} / ${o.lost})`,
        "0 / 0",
        k.duplicates + k.lost + o.duplicates + o.lost === 0 ? "met" : "MISSED",
      ],
    );
  }
}
if (hostile) {
  const h = hostile;
  const sized = `${h.contexts} Contexts of 256 KiB`;
  rows.push(
    [`hostile: RSS idle`, mem(h.idle), "", ""],
    [
      `hostile: RSS with ${sized} cached (peak)`,
      `${mem(h.withContexts)}, peak ${h.withContexts.peakMiB}`,
      "≤ 200 MiB",
      h.withContexts.peakMiB <= 200 ? "met" : "missed",
    ],
    [
      `hostile: + ${h.tasks} Tasks with 200 KiB descriptions → Jobs (peak)`,
      `${mem(h.afterJobs)}, peak ${h.afterJobs.peakMiB}`,
      "≤ 200 MiB",
      h.afterJobs.peakMiB <= 200 ? "met" : "missed",
    ],
    [
      "hostile: after a restart, caches filled by lists (peak)",
      `${mem(h.restarted)}, peak ${h.restarted.peakMiB}`,
      "≤ 200 MiB",
      h.restarted.peakMiB <= 200 ? "met" : "missed",
    ],
    [
      "hostile: Tasks with two Jobs / none; sampled task.md not whole",
      `${h.duplicates} / ${h.lost}; ${h.incomplete} of ${h.sampled}`,
      "0 / 0; 0",
      h.duplicates + h.lost + h.incomplete === 0 ? "met" : "MISSED",
    ],
  );
}

console.log(`\nKubeTask end-to-end benchmark: ${N} Tasks, ${WRITERS} writers`);
console.log(
  `machine: ${about}; load average ${loadAtStart} at start, ${await loadAverage()} at end`,
);
console.log(table(rows));
console.log(
  goOperator
    ? `Go operator at ${goOperator}: side-by-side runs are not implemented yet.`
    : "Go operator: not run (set KUBETASK_BENCH_GO_OPERATOR to a build of it).",
);
// A lost or doubled Job is a failure, not a figure.
if (apf && apf.duplicates + apf.lost > 0) Deno.exit(1);
if (hostile && hostile.duplicates + hostile.lost + hostile.incomplete > 0) Deno.exit(1);
if (kueue && [kueue.without, ...kueue.through].some((r) => r.duplicates + r.lost > 0)) {
  Deno.exit(1);
}
