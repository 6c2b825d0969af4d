// The chaos invariants with Kueue admitting: the operator, a subprocess, is
// SIGKILLed twice while 20 one-CPU Tasks go through a 4-CPU ClusterQueue, and
// restarted each time as its Deployment would. Checked from the apiserver: each
// Task has exactly one Job and one task.md ConfigMap, none is lost, and Kueue
// never had more than 4 Jobs admitted and unfinished at once.
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
import { queues, withKueue } from "./queues.ts";

const TASKS = 20;
const QUOTA = 4;

Deno.test({
  name:
    "kueue chaos: the operator SIGKILLed twice mid-burst doubles, loses and over-admits nothing",
  ignore: !withKueue,
  fn: async () => {
    const ns = await testNamespace("kueue-kill");
    const kubeconfig = Deno.env.get("KUBECONFIG")!;
    const { client, transport } = await adminClient(kubeconfig);
    const sampler = new Sampler(transport, [ns.name]);
    const dropQueues = await queues(ns.name, QUOTA);
    let operator: OperatorProcess | undefined;
    try {
      await applyCrds(client, ourCrds(), silentLogger);
      await kubectl(["create", "serviceaccount", "agent-sa", "-n", ns.name]);
      await client.create(AgentResource, {
        metadata: { name: "default", namespace: ns.name },
        spec: {
          agentImage: "example.test/agent:1",
          serviceAccountName: "agent-sa",
          queueName: "team-q",
          resources: { requests: { cpu: "1" } },
          podSpec: { labels: { "sim.kubetask.io/run-for": "1s" } },
        },
      });
      await sampler.start(100);
      const start = () => new OperatorProcess(kubeconfig, ns.name, ["--kueue=true"]);
      operator = start();
      await operator.ready();
      const burst = writeInParallel(4, TASKS, (i) =>
        client.create(TaskResource, {
          metadata: { name: `burst-${i}`, namespace: ns.name },
          spec: { description: `Task ${i}` },
        }));
      for (const jobs of [4, 10]) {
        await eventually(`${jobs} Jobs`, () => Promise.resolve(sampler.jobCount() >= jobs), 60_000);
        await operator.kill();
        operator = start();
      }
      await burst;
      await eventually("every Task finished", async () => {
        const tasks = await client.list(TaskResource, ns.name);
        return tasks.filter((t) => t.status?.phase === "Completed").length === TASKS;
      }, 300_000);

      const jobs = await client.list(JobResource, ns.name);
      const verdict = judge({
        tasks: await client.list(TaskResource, ns.name),
        jobs,
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
      assert.ok(
        jobs.every((j) => j.metadata?.labels?.["kueue.x-k8s.io/queue-name"] === "team-q"),
        "every Job went through Kueue",
      );
      const most = sampler.peakPerAgent.get(`${ns.name}/default`) ?? 0;
      console.error(`[kueue] most Jobs admitted and unfinished at once: ${most} (quota ${QUOTA})`);
      assert.ok(most >= 1 && most <= QUOTA, `most admitted and unfinished at once: ${most}`);
    } finally {
      await operator?.stop();
      await sampler.stop();
      await transport.close();
      await dropQueues();
      await ns.cleanup();
    }
  },
});
