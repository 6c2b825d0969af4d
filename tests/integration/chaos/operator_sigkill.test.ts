// The short version of the chaos scenario "operator-sigkill-x3" (tests/chaos/):
// the operator, a subprocess, is SIGKILLed twice while 50 Tasks are turned into
// Jobs, and restarted each time as its Deployment would. Checked from the
// apiserver: each Task has exactly one Job and one task.md ConfigMap, and the
// Agent with a limit never had more unfinished Jobs than it allows.
import assert from "assert";
import { applyCrds, ourCrds } from "../../../controllers/crds.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { ConfigMapResource, JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import { adminClient, writeInParallel } from "../../bench/e2e/load.ts";
import { OperatorProcess } from "../../bench/e2e/operator_process.ts";
import { judge } from "../../chaos/invariants.ts";
import { Sampler } from "../../chaos/sampler.ts";
import { eventually, kubectl, testNamespace } from "../env.ts";

const TASKS = 50;
const LIMIT = 2;

Deno.test("chaos, short: the operator SIGKILLed twice mid-burst loses and doubles nothing", async () => {
  const ns = await testNamespace("chaos-kill");
  const kubeconfig = Deno.env.get("KUBECONFIG")!;
  const { client, transport } = await adminClient(kubeconfig);
  const sampler = new Sampler(transport, [ns.name]);
  let operator: OperatorProcess | undefined;
  try {
    await applyCrds(client, ourCrds(), silentLogger);
    await kubectl(["create", "serviceaccount", "agent-sa", "-n", ns.name]);
    for (const [name, limit] of [["default", undefined], ["limited", LIMIT]] as const) {
      await client.create(AgentResource, {
        metadata: { name, namespace: ns.name },
        spec: {
          agentImage: "example.test/agent:1",
          serviceAccountName: "agent-sa",
          ...(limit ? { maxConcurrentTasks: limit } : {}),
          podSpec: { labels: { "sim.kubetask.io/run-for": "1s" } },
        },
      });
    }
    await sampler.start(100);
    operator = new OperatorProcess(kubeconfig, ns.name);
    await operator.ready();
    const burst = writeInParallel(4, TASKS, (i) =>
      client.create(TaskResource, {
        metadata: { name: `burst-${i}`, namespace: ns.name },
        spec: { description: `Task ${i}`, ...(i % 2 ? { agentRef: "limited" } : {}) },
      }));
    for (const jobs of [5, 20]) {
      await eventually(`${jobs} Jobs`, () => Promise.resolve(sampler.jobCount() >= jobs), 60_000);
      await operator.kill();
      operator = new OperatorProcess(kubeconfig, ns.name);
    }
    await burst;
    await eventually("every Task finished", async () => {
      const tasks = await client.list(TaskResource, ns.name);
      return tasks.filter((t) => t.status?.phase === "Completed").length === TASKS;
    }, 120_000);

    const verdict = judge({
      tasks: await client.list(TaskResource, ns.name),
      jobs: await client.list(JobResource, ns.name),
      configMaps: await client.list(ConfigMapResource, ns.name, {
        labelSelector: "kubetask.io/task",
      }),
      events: [],
    });
    assert.deepEqual(
      { tasks: verdict.tasks, duplicates: verdict.duplicates, lost: verdict.lost },
      { tasks: TASKS, duplicates: [], lost: [] },
    );
    assert.deepEqual(verdict.orphans, []);
    const most = sampler.peakPerAgent.get(`${ns.name}/limited`) ?? 0;
    assert.ok(most >= 1 && most <= LIMIT, `most unfinished Jobs of "limited": ${most}`);
  } finally {
    await operator?.stop();
    await sampler.stop();
    await transport.close();
    await ns.cleanup();
  }
});
