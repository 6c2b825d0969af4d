// `deno task chaos`: each scenario on a fresh local control plane (cluster
// `chaos-<scenario>`, torn down afterwards): the operator as a subprocess, a
// workload (workload.ts), one fault (scenarios.ts), then the invariants
// checked from what the apiserver lists (invariants.ts). One table row per
// scenario; any broken invariant is listed under the table and fails the run.
//
//   deno task chaos [--tasks 400] [--scenarios operator-sigkill-x3,apiserver-down-20s,...]
//
// Figures are printed, never asserted: recovery seconds and peak RSS depend on
// the machine (noted above the table).
import { parseArgs } from "node:util";
import { down, up } from "../../localcluster/cluster.ts";
import { applyCrds, ourCrds } from "../../controllers/crds.ts";
import { silentLogger } from "../../controllers/runtime/log.ts";
import { ConfigMapResource, JobResource } from "../../controllers/runtime/resources.ts";
import { TaskResource } from "../../controllers/kinds.ts";
import type { KubeObject, ResourceType } from "../../controllers/runtime/types.ts";
import { adminClient } from "../bench/e2e/load.ts";
import { auditedCount, createNamespaces, machine } from "../bench/e2e/bench_cluster.ts";
import { judge, type Verdict } from "./invariants.ts";
import { Operators } from "./operators.ts";
import { Sampler } from "./sampler.ts";
import { type Scenario, SCENARIOS } from "./scenarios.ts";
import {
  createAgentsAndCronTasks,
  LIMIT,
  LIMITED_AGENT,
  NAMESPACES,
  writeBurst,
} from "./workload.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tasks: { type: "string", default: "400" },
    scenarios: { type: "string", default: SCENARIOS.map((s) => s.name).join(",") },
  },
});
const TASKS = Number(values.tasks);
/** Schedule times each CronTask must have seen before the end (one minute apart). */
const CRON_RUNS = 2;
/** "At most a few Events per Task": a storm is more than this. */
const EVENTS_PER_TASK = 10;
/** The memory limit both installers set. */
const RSS_LIMIT_MIB = 256;
/** Past this, a scenario's recovery is "never" and its row says so. */
const RECOVERY_TIMEOUT_MS = 180_000;

const EventResource: ResourceType = {
  apiVersion: "v1",
  kind: "Event",
  plural: "events",
  namespaced: true,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  scenario: Scenario;
  verdict: Verdict;
  mostConcurrent: number;
  mostCronRuns: Map<string, number>;
  recoverySeconds: number | undefined;
  apiRequests: number;
  peakRssMiB: number;
  restarts: number;
  notes: string;
  violations: string[];
}

async function listAll(
  client: Awaited<ReturnType<typeof adminClient>>["client"],
  type: ResourceType,
) {
  const out: KubeObject[] = [];
  for (const ns of NAMESPACES) out.push(...await client.list(type, ns));
  return out;
}

async function runScenario(scenario: Scenario): Promise<Result> {
  const cluster = `chaos-${scenario.name}`;
  const log = (msg: string) => console.error(`[chaos ${scenario.name}] ${msg}`);
  log(`starting control plane ${cluster}`);
  const state = await up(cluster, { auditedOperator: true, realNode: false });
  const { client, transport } = await adminClient(state.kubeconfig);
  let operators: Operators | undefined;
  const sampler = new Sampler(transport, NAMESPACES);
  try {
    await createNamespaces(state, NAMESPACES);
    await applyCrds(client, ourCrds(), silentLogger);
    const cronCreated = Date.now();
    await createAgentsAndCronTasks(client);
    const kubeconfig = scenario.setup ? await scenario.setup(state) : state.operatorKubeconfig!;
    operators = new Operators(() => kubeconfig, scenario.replicas);
    await Promise.any(operators.replicas.map((op) => op.ready()));
    await sampler.start();
    const auditBefore = await auditedCount(state);

    log(`burst of ${TASKS} Tasks over ${NAMESPACES.length} namespaces`);
    const burst = writeBurst(client, TASKS);
    const fault = await scenario.fault({ state, client, operators, sampler, tasks: TASKS, log });
    await burst;

    let recoverySeconds: number | undefined;
    while (performance.now() - fault.endedAt < RECOVERY_TIMEOUT_MS) {
      if (sampler.settled(TASKS) && await operators.queueEmpty()) {
        recoverySeconds = (performance.now() - fault.endedAt) / 1000;
        break;
      }
      await sleep(250);
    }
    log(
      `recovered after ${
        recoverySeconds?.toFixed(1) ?? "never"
      } s; waiting for the burst to finish`,
    );

    // The end: every burst Task finished, and each CronTask saw CRON_RUNS schedule times.
    const cronDone = (Math.floor(cronCreated / 60_000) + CRON_RUNS + 1) * 60_000 + 10_000;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const burstTasks = (await listAll(client, TaskResource))
        .filter((t) => t.metadata?.name?.startsWith("burst-"));
      const finished = burstTasks.filter((t) =>
        t.status?.phase === "Completed" || t.status?.phase === "Failed"
      ).length;
      if (finished >= TASKS && Date.now() >= cronDone) break;
      await sleep(2000);
    }
    await sleep(3000); // the last status writes and garbage collection
    const verdict = judge({
      tasks: await listAll(client, TaskResource),
      jobs: await listAll(client, JobResource),
      configMaps: (await listAll(client, ConfigMapResource))
        .filter((c) => c.metadata?.labels?.["kubetask.io/task"]),
      events: await listAll(client, EventResource),
    });
    const apiRequests = (await auditedCount(state)) - auditBefore;
    const peakRssMiB = operators.peakRssMiB();
    const mostConcurrent = Math.max(
      0,
      ...[...sampler.peakPerAgent].filter(([k]) => k.endsWith(`/${LIMITED_AGENT}`)).map(([, v]) =>
        v
      ),
    );
    const mostCronRuns = sampler.peakRuns;
    const violations = [
      ...verdict.duplicates.map((t) => `duplicate Job or ConfigMap: ${t}`),
      ...verdict.lost.map((t) => `no Job or ConfigMap: ${t}`),
      ...verdict.orphans.map((o) => `orphan: ${o}`),
      ...verdict.unexplained.map((t) => `not finished, no reason: ${t}`),
      ...verdict.cronDuplicates.map((c) => `two Tasks for one schedule time: ${c}`),
      ...(mostConcurrent > LIMIT ? [`${mostConcurrent} unfinished Jobs, limit ${LIMIT}`] : []),
      ...[...mostCronRuns].filter(([k, n]) => !k.endsWith("-allow") && n > 1)
        .map(([k, n]) => `${n} runs at once under ${k}`),
      ...(verdict.mostEventsPerTask > EVENTS_PER_TASK
        ? [`${verdict.mostEventsPerTask} Events for one Task`]
        : []),
      ...(peakRssMiB > RSS_LIMIT_MIB ? [`peak RSS ${peakRssMiB} MiB`] : []),
      ...(recoverySeconds === undefined ? ["never recovered"] : []),
      ...(verdict.tasks < TASKS ? [`only ${verdict.tasks} Tasks`] : []),
    ];
    return {
      scenario,
      verdict,
      mostConcurrent,
      mostCronRuns,
      recoverySeconds,
      apiRequests,
      peakRssMiB,
      restarts: operators.restarts,
      notes: fault.notes ?? "",
      violations,
    };
  } finally {
    await sampler.stop().catch(() => {});
    await operators?.stop();
    scenario.teardown?.();
    await transport.close();
    await down(cluster);
  }
}

function row(r: Result): string[] {
  return [
    r.scenario.name,
    String(r.verdict.tasks),
    String(r.verdict.jobs),
    String(r.verdict.duplicates.length),
    String(r.verdict.lost.length),
    `${r.mostConcurrent}/${LIMIT}`,
    ["allow", "forbid", "replace"].map((p) =>
      String([...r.mostCronRuns].find(([k]) => k.endsWith(`-${p}`))?.[1] ?? 0)
    ).join("/"),
    r.recoverySeconds?.toFixed(1) ?? "never",
    String(r.apiRequests),
    String(r.peakRssMiB),
    String(r.restarts),
    r.notes,
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

const wanted = values.scenarios.split(",");
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
if (unknown.length) throw new Error(`unknown scenarios: ${unknown.join(", ")}`);
const about = await machine();
const results: Result[] = [];
const failed: string[] = [];
for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
  // One scenario's harness failure (not an invariant) must not hide the others' rows.
  try {
    const result = await runScenario(scenario);
    results.push(result);
    // Printed at once too: a later scenario that crashes the harness must not take it along.
    console.error(`[chaos ${scenario.name}] row: ${row(result).join(" | ")}`);
  } catch (err) {
    console.error(`[chaos ${scenario.name}] failed: ${(err as Error).stack ?? err}`);
    failed.push(`${scenario.name}: ${(err as Error).message}`);
  }
}

console.log(
  `\nKubeTask chaos run: ${TASKS} burst Tasks, ${NAMESPACES.length} namespaces, ` +
    `Agents "${LIMITED_AGENT}" with maxConcurrentTasks ${LIMIT}, a CronTask per concurrency policy`,
);
console.log(`machine: ${about}`);
console.log(table([
  [
    "scenario",
    "Tasks",
    "Jobs",
    "dup",
    "lost",
    "concurrent/limit",
    "cron runs at once (A/F/R)",
    "recovery s",
    "API requests",
    "peak RSS MiB",
    "restarts",
    "notes",
  ],
  ...results.map(row),
]));
const broken = results.filter((r) => r.violations.length);
for (const r of broken) {
  console.log(`\n${r.scenario.name}: ${r.violations.length} invariant(s) broken`);
  for (const v of r.violations.slice(0, 20)) console.log(`  ${v}`);
}
for (const f of failed) console.log(`\nscenario did not complete: ${f}`);
Deno.exit(broken.length || failed.length ? 1 : 0);
