// Agent.spec.queueName against the real Kueue (started by `deno task test` for
// these tests, or `cluster up NAME --kueue`): a ClusterQueue of 2 CPUs
// admits 2 of 5 one-CPU Tasks at a time, all complete; a Task stopped while it
// waits in Kueue never starts. Skipped on a cluster without Kueue.
import assert from "assert";
import { DEFAULT_JOB_SETTINGS } from "../../../controllers/task/job.ts";
import { eventually, kubectl } from "../env.ts";
import { condition, type Json, TaskHarness } from "../task/harness.ts";
import { cli } from "../cli/run_cli.ts";
import { admittedUnfinished, priorityClasses, queues, withKueue } from "./queues.ts";

const kueueSettings = () => ({ ...DEFAULT_JOB_SETTINGS, kueue: true });

/** One line per Task: name, phase, the Succeeded condition's reason. */
const table = (tasks: Json[]) =>
  tasks.map((t) =>
    `${t.metadata.name} ${t.status?.phase ?? "-"} ${condition(t, "Succeeded")?.reason ?? "-"}`
  ).join(" | ");

Deno.test({
  name:
    "kueue: 5 one-CPU Tasks on a 2-CPU ClusterQueue never run more than 2 at once, all complete",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const dropQueues = await queues(h.ns, 2);
    try {
      await h.agent("default", {
        queueName: "team-q",
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: { "sim.kubetask.io/run-for": "3s" } },
      });
      const names = ["k1", "k2", "k3", "k4", "k5"];
      for (const name of names) await h.task(name);
      let most = 0;
      let mostAdmitted = 0;
      let queuedMessage: string | undefined;
      let sample: string | undefined;
      let listing: string | undefined;
      const deadline = Date.now() + 180_000;
      let tasks: Json[] = [];
      while (Date.now() < deadline) {
        tasks = await h.list("tasks");
        const admitted = admittedUnfinished(await h.list("jobs"));
        mostAdmitted = Math.max(mostAdmitted, admitted);
        const running = tasks.filter((t) => t.status?.phase === "Running").length;
        most = Math.max(most, running);
        const queued = tasks.filter((t) =>
          t.status?.phase === "Queued" &&
          condition(t, "Succeeded")?.reason === "KueueAdmissionPending"
        );
        const withWords = queued.find((t) =>
          /Kueue Workload/.test(condition(t, "Succeeded").message)
        );
        if (withWords && !queuedMessage) queuedMessage = condition(withWords, "Succeeded").message;
        if (running === 2 && queued.length > 0 && !sample) {
          sample = table(tasks);
          listing = await kubectl(["get", "tasks", "-n", h.ns]);
        }
        if (tasks.length === 5 && tasks.every((t) => t.status?.phase === "Completed")) break;
        await new Promise((r) => setTimeout(r, 150));
      }
      console.error(`[kueue] sampled while 5 Tasks share 2 CPUs: ${sample}`);
      console.error(`[kueue] kubectl get tasks then:\n${listing}`);
      console.error(`[kueue] a queued Task's message: ${queuedMessage}`);
      assert.ok(
        tasks.every((t) => t.status?.phase === "Completed"),
        `all Completed: ${table(tasks)}`,
      );
      console.error(
        `[kueue] most Tasks Running at once: ${most}, most Jobs admitted: ${mostAdmitted}`,
      );
      assert.ok(mostAdmitted <= 2, `Kueue admitted at most 2 Jobs at once, saw ${mostAdmitted}`);
      assert.ok(most <= 2, `at most 2 Running at once, saw ${most}`);
      assert.equal(most, 2, "the quota is used, not just respected");
      assert.ok(sample, "seen: 2 Running while others wait in Kueue");
      assert.match(queuedMessage ?? "", /LocalQueue "team-q"/);
      // Kueue's own words: what quota is missing.
      assert.match(queuedMessage ?? "", /quota|cpu/i);
      // Every Job went through Kueue: created suspended and labelled.
      for (const job of await h.list("jobs")) {
        assert.equal(job.metadata.labels["kueue.x-k8s.io/queue-name"], "team-q");
      }
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});

Deno.test({
  name: "kueue: a Task stopped while it waits in Kueue fails Stopped and never gets a pod",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const dropQueues = await queues(h.ns, 1);
    try {
      await h.agent("default", {
        queueName: "team-q",
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
      });
      await h.task("first");
      await h.waitForPhase("first", "Running", 90_000);
      await h.task("second");
      const waiting = await eventually("second waits in Kueue with Kueue's words", async () => {
        const t = await h.get("task", "second");
        const c = condition(t, "Succeeded");
        // Kueue's own words once it tried: the quota it lacks.
        return t?.status?.phase === "Queued" && c?.reason === "KueueAdmissionPending" &&
            /Kueue Workload .*insufficient unused quota for cpu/.test(c.message)
          ? t
          : undefined;
      }, 60_000);
      console.error(`[kueue] second while waiting: ${condition(waiting, "Succeeded").message}`);
      const described = await cli("describe", "second", "-n", h.ns);
      assert.equal(described.code, 0, described.stderr);
      assert.match(described.stdout, /^Queue:\s+team-q \(Kueue LocalQueue\)$/m);
      assert.match(described.stdout, /Succeeded=Unknown KueueAdmissionPending: Kueue Workload/);
      const listed = await cli("list", "-n", h.ns);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^NAME\s+PHASE\s+AGENT\s+QUEUE\s+AGE\s/m);
      assert.match(listed.stdout, /^second\s+Queued\s+team-q\s/m);
      await kubectl(["annotate", "task", "second", "-n", h.ns, "kubetask.io/stop=true"]);
      const stopped = await h.waitForPhase("second", "Failed");
      assert.equal(condition(stopped, "Succeeded").reason, "Stopped");
      await eventually("second's Job deleted", async () => !(await h.get("job", "second")));
      // The quota frees up. Kueue admits what waits: a third Task, never the stopped one.
      await kubectl(["annotate", "task", "first", "-n", h.ns, "kubetask.io/stop=true"]);
      await h.waitForPhase("first", "Failed");
      await h.task("third");
      await h.waitForPhase("third", "Running", 90_000);
      const pods = JSON.parse(
        await kubectl(["get", "pods", "-n", h.ns, "-l", "kubetask.io/task=second", "-o", "json"]),
      ).items;
      assert.deepEqual(pods, [], "the stopped Task never got a pod");
      assert.equal(await h.get("job", "second"), undefined);
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});

Deno.test({
  name:
    "kueue: a higher-priority Task preempts a running one, which fails Preempted and is not restarted",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const dropQueues = await queues(h.ns, 1, {
      spec: { preemption: { withinClusterQueue: "LowerPriority" } },
    });
    await priorityClasses();
    try {
      for (const [name, priority] of [["low", "kt-low"], ["high", "kt-high"]]) {
        await h.agent(name, {
          queueName: "team-q",
          priorityClassName: priority,
          resources: { requests: { cpu: "1" } },
          podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
        });
      }
      await h.task("background", { agentRef: "low" });
      await h.waitForPhase("background", "Running", 90_000);
      await h.task("urgent", { agentRef: "high" });
      const preempted = await h.waitForPhase("background", "Failed", 90_000);
      const why = condition(preempted, "Succeeded");
      console.error(`[kueue] preempted: ${why.reason}: ${why.message}`);
      assert.equal(why.reason, "Preempted");
      assert.match(why.message, /not restarted/);
      await h.waitForPhase("urgent", "Running", 90_000);
      await eventually(
        "the preempted Task's Job deleted",
        async () => !(await h.get("job", "background")),
      );
      // Never restarted: its pod goes, and with its Job its Workload, so Kueue has nothing of it
      // to admit again.
      await eventually("the preempted Task's pod gone", async () =>
        JSON.parse(
          await kubectl([
            "get",
            "pods",
            "-n",
            h.ns,
            "-l",
            "kubetask.io/task=background",
            "-o",
            "json",
          ]),
        ).items.length === 0);
      await eventually(
        "the preempted Task's Workload gone",
        async () =>
          !(await h.list("workloads")).some((w: Json) =>
            w.metadata.ownerReferences?.some((r: Json) =>
              r.kind === "Job" && r.name === "background"
            )
          ),
      );
      const pods = (await h.list("pods")).filter((p: Json) =>
        p.metadata.labels?.["kubetask.io/task"] === "background"
      );
      assert.deepEqual(pods, []);
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});

Deno.test({
  name: "kueue: the operator restarted while Jobs wait in Kueue doubles none and loses none",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const dropQueues = await queues(h.ns, 1);
    try {
      await h.agent("default", {
        queueName: "team-q",
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: { "sim.kubetask.io/run-for": "3s" } },
      });
      const names = ["r1", "r2", "r3"];
      for (const name of names) await h.task(name);
      await eventually("every Task has its Job, one admitted", async () => {
        const jobs = await h.list("jobs");
        return jobs.length === 3 && jobs.some((j: Json) => j.spec.suspend === false);
      }, 60_000);
      const uids = new Map(
        (await h.list("jobs")).map((j: Json) => [j.metadata.name, j.metadata.uid]),
      );
      await h.stopManager();
      // Kueue goes on without the operator: the first Job finishes, it admits the next.
      await eventually(
        "Kueue admits a second Job while the operator is down",
        async () =>
          (await h.list("jobs")).filter((j: Json) => j.spec.suspend === false).length >= 2,
        60_000,
      );
      await h.startManager();
      await eventually("all Completed", async () => {
        const tasks = await h.list("tasks");
        return tasks.length === 3 && tasks.every((t: Json) => t.status?.phase === "Completed");
      }, 120_000);
      const jobs = await h.list("jobs");
      assert.deepEqual(
        new Map(jobs.map((j: Json) => [j.metadata.name, j.metadata.uid])),
        uids,
        "the same three Jobs: none created twice, none deleted",
      );
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});

Deno.test({
  name:
    "kueue: a team's LocalQueue borrows the idle quota of another team's ClusterQueue in its cohort",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const cohort = `co-${h.ns}`;
    const cqs = ["a", "b"].map((team) => `cq${team}-${h.ns}`);
    const drops = [];
    for (const [i, team] of ["a", "b"].entries()) {
      drops.push(
        await queues(h.ns, 1, {
          clusterQueue: cqs[i],
          localQueue: `${team}-q`,
          spec: { cohortName: cohort },
        }),
      );
    }
    try {
      await h.agent("team-a", {
        queueName: "a-q",
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
      });
      await h.task("a1", { agentRef: "team-a" });
      await h.task("a2", { agentRef: "team-a" });
      // Team a's own quota is 1 CPU: the second runs on team b's idle CPU.
      await h.waitForPhase("a1", "Running", 90_000);
      await h.waitForPhase("a2", "Running", 90_000);
      const admissions = JSON.parse(await kubectl(["get", "workloads", "-n", h.ns, "-o", "json"]))
        .items.map((w: Json) => w.status?.admission?.clusterQueue);
      assert.deepEqual(admissions, [cqs[0], cqs[0]], "both admitted by team a's ClusterQueue");
      // Kueue writes the ClusterQueue's usage after admitting: read it once it says so.
      const usage = await eventually("team a's ClusterQueue shows the borrowed CPU", async () => {
        const u = JSON.parse(await kubectl(["get", "clusterqueue", cqs[0], "-o", "json"]))
          .status?.flavorsUsage?.[0]?.resources?.[0];
        return String(u?.borrowed) === "1" ? u : undefined;
      }, 30_000).catch(() => undefined);
      console.error(`[kueue] team a's ClusterQueue usage: ${JSON.stringify(usage)}`);
      assert.equal(String(usage?.borrowed), "1", "one CPU borrowed from the cohort");
    } finally {
      await h.cleanup();
      for (const drop of drops) await drop();
    }
  },
});

Deno.test({
  name:
    "kueue: preempted before its agent started, a Task goes back to Queued (Preempted) and keeps its Job",
  ignore: !withKueue,
  fn: async () => {
    const h = await TaskHarness.start({ settings: kueueSettings });
    const dropQueues = await queues(h.ns, 1, {
      spec: { preemption: { withinClusterQueue: "LowerPriority" } },
    });
    await priorityClasses();
    try {
      // Admitted by Kueue, but its pod fits no node: the agent never starts.
      await h.agent("low", {
        queueName: "team-q",
        priorityClassName: "kt-low",
        resources: { requests: { cpu: "1" } },
        podSpec: { scheduling: { nodeSelector: { "kubetask.test/no-such-node": "x" } } },
      });
      await h.agent("high", {
        queueName: "team-q",
        priorityClassName: "kt-high",
        resources: { requests: { cpu: "1" } },
        podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } },
      });
      await h.task("waiting", { agentRef: "low" });
      await eventually("the low Task admitted, its pod unschedulable", async () => {
        const job = await h.get("job", "waiting");
        const t = await h.get("task", "waiting");
        return job?.spec?.suspend === false && t?.status?.phase === "Pending";
      }, 60_000);
      await h.task("urgent", { agentRef: "high" });
      const back = await eventually("the low Task Queued again", async () => {
        const t = await h.get("task", "waiting");
        return t?.status?.phase === "Queued" && condition(t, "Succeeded")?.reason === "Preempted"
          ? t
          : undefined;
      }, 60_000);
      console.error(`[kueue] preempted before start: ${condition(back, "Succeeded").message}`);
      assert.match(condition(back, "Succeeded").message, /the agent had not started/);
      await h.waitForPhase("urgent", "Running", 60_000);
      const job = await h.get("job", "waiting");
      assert.ok(job, "its Job is kept: Kueue admits it again once there is room");
      assert.equal(job.spec.suspend, true);
    } finally {
      await h.cleanup();
      await dropQueues();
    }
  },
});
