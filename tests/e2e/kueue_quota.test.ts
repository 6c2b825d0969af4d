// The real Kueue admitting real pods: three Tasks whose agents run on the real
// node through a ClusterQueue whose CPU quota holds two of them at once. All
// complete, never more than two admitted or running at once, and the third
// waits in Kueue (Queued, KueueAdmissionPending) until one finishes.
import assert from "assert";
import { DEFAULT_JOB_SETTINGS } from "../../controllers/task/job.ts";
import { condition, type Json, TaskHarness } from "../integration/task/harness.ts";
import { admittedUnfinished, queues, withKueue } from "../integration/kueue/queues.ts";
import { agentLog, onRealNode, realNodeAgent } from "./real_node.ts";

const test = onRealNode(
  "e2e: 3 Tasks on the real node through a Kueue quota for 2 run at most 2 at once, all complete",
);

Deno.test({
  ...test,
  ignore: test.ignore || !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({
      settings: () => ({ ...DEFAULT_JOB_SETTINGS, kueue: true }),
    });
    // Small requests that fit the real node; the quota admits two.
    const dropQueues = await queues(h.ns, "200m");
    try {
      await h.agent(
        "default",
        realNodeAgent({
          queueName: "team-q",
          resources: { requests: { cpu: "100m" } },
          // Long enough that two run side by side while the third waits.
          command: ["sh", "-c", "echo started; sleep 6; echo done"],
        }),
      );
      const names = ["q1", "q2", "q3"];
      for (const name of names) await h.task(name);
      let mostAdmitted = 0;
      let mostRunningPods = 0;
      let waited: string | undefined;
      const deadline = Date.now() + 300_000;
      let tasks: Json[] = [];
      while (Date.now() < deadline) {
        tasks = await h.list("tasks");
        mostAdmitted = Math.max(mostAdmitted, admittedUnfinished(await h.list("jobs")));
        const pods = (await h.list("pods")).filter((p: Json) => p.status?.phase === "Running");
        mostRunningPods = Math.max(mostRunningPods, pods.length);
        const queued = tasks.find((t) =>
          t.status?.phase === "Queued" &&
          /insufficient unused quota/.test(condition(t, "Succeeded")?.message ?? "")
        );
        if (queued && !waited) waited = condition(queued, "Succeeded").message;
        if (tasks.length === 3 && tasks.every((t) => t.status?.phase === "Completed")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      console.error(
        `[e2e] kueue on the real node: most admitted ${mostAdmitted}, most pods Running ` +
          `${mostRunningPods}; a waiting Task said: ${waited}`,
      );
      assert.deepEqual(
        tasks.map((t) => `${t.metadata.name} ${t.status?.phase}`),
        names.map((n) => `${n} Completed`),
      );
      assert.ok(mostAdmitted <= 2, `Kueue admitted at most 2 at once, saw ${mostAdmitted}`);
      assert.ok(mostRunningPods <= 2, `at most 2 pods Running at once, saw ${mostRunningPods}`);
      assert.equal(mostAdmitted, 2, "the quota is used, not just respected");
      assert.ok(waited, "a Task waited in Kueue for quota");
      for (const name of names) {
        assert.match(await agentLog(h, name), /^started\ndone$/m, `${name} ran to its end`);
      }
      for (const job of await h.list("jobs")) {
        assert.equal(job.metadata.labels["kueue.x-k8s.io/queue-name"], "team-q");
      }
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});
