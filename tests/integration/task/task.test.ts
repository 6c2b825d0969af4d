// The Task controller against the real control plane: Jobs run on the kwok
// node, the Job controller sets their conditions, the GC cascades deletes.
import assert from "assert";
import { eventually, kubectl } from "../env.ts";
import { condition, type Json, TaskHarness } from "./harness.ts";

function configMapOf(h: TaskHarness, task: Json): Promise<Json> {
  const volume = task.spec.template.spec.volumes.find((v: Json) => v.name === "task-context");
  return h.get("configmap", volume.configMap.name);
}

Deno.test("task: a description-only Task runs a Job to Completed", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", { podSpec: { labels: { team: "qa" } } });
    await h.task("hello", { description: "Say hello.\n" });
    const task = await h.waitForPhase("hello", "Completed");
    assert.equal(task.status.jobName, "hello");
    assert.ok(task.status.startTime);
    assert.ok(task.status.completionTime);
    assert.equal(condition(task, "Succeeded")?.reason, "JobSucceeded");

    const job = await h.get("job", "hello");
    assert.equal(job.metadata.ownerReferences[0].uid, task.metadata.uid);
    const pod = job.spec.template;
    assert.equal(pod.metadata.labels["kubetask.io/task"], "hello");
    assert.equal(pod.metadata.labels.team, "qa");
    assert.equal(pod.spec.serviceAccountName, "agent-sa");
    const env = Object.fromEntries(pod.spec.containers[0].env.map((e: Json) => [e.name, e.value]));
    assert.equal(env.TASK_NAME, "hello");
    assert.equal(env.TASK_NAMESPACE, h.ns);
    const cm = await configMapOf(h, job);
    assert.equal(cm.data["task.md"], "Say hello.\n");
    assert.equal(cm.metadata.ownerReferences[0].uid, task.metadata.uid);
    const events = await h.eventsFor("hello");
    assert.ok(events.some((e) => e.startsWith("Normal JobSucceeded")), events.join("\n"));
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: Agent and Task contexts give the exact task.md and mounted files", async () => {
  const h = await TaskHarness.start();
  try {
    await h.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "guides" },
      data: { "g.md": "# Guide" },
    });
    await h.context("org-standards", { type: "Inline", inline: { content: "Use clear names." } });
    await h.context("agent-file", { type: "Inline", inline: { content: "agent notes" } });
    await h.context("security", { type: "ConfigMap", configMap: { name: "guides", key: "g.md" } });
    await h.context("all-guides", { type: "ConfigMap", configMap: { name: "guides" } });
    await h.agent("coder", {
      contexts: [{ name: "org-standards" }, {
        name: "agent-file",
        mountPath: "/workspace/notes.md",
      }],
    });
    await h.task("refactor", {
      agentRef: "coder",
      description: "Refactor auth.",
      contexts: [{ name: "security" }, { name: "all-guides", mountPath: "/workspace/guides" }],
    });
    await h.waitForPhase("refactor", "Completed");
    const job = await h.get("job", "refactor");
    const cm = await configMapOf(h, job);
    assert.equal(
      cm.data["task.md"],
      "Refactor auth.\n\n" +
        `<context name="org-standards" namespace="${h.ns}" type="Inline">\nUse clear names.\n</context>\n\n` +
        `<context name="security" namespace="${h.ns}" type="ConfigMap">\n# Guide\n</context>\n`,
    );
    // Each mount path gets its content through a subPath of the ConfigMap volume.
    const spec = job.spec.template.spec;
    const items = spec.volumes.find((v: Json) => v.name === "task-context").configMap.items;
    const keyAt = (path: string) => items.find((i: Json) => i.path === path)?.key;
    const mounts = spec.containers[0].volumeMounts;
    const subPathAt = (p: string) => mounts.find((m: Json) => m.mountPath === p)?.subPath;
    assert.equal(cm.data[keyAt(subPathAt("/workspace/task.md"))], cm.data["task.md"]);
    assert.equal(cm.data[keyAt(subPathAt("/workspace/notes.md"))], "agent notes");
    assert.equal(cm.data[keyAt(`${subPathAt("/workspace/guides")}/g.md`)], "# Guide");
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: a failing agent pod fails the Task with a reason", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", { podSpec: { labels: { "sim.kubetask.io/outcome": "fail" } } });
    await h.task("doomed", { description: "fail please" });
    const task = await h.waitForPhase("doomed", "Failed");
    assert.equal(condition(task, "Succeeded")?.reason, "JobFailed");
    assert.ok(task.status.completionTime);
    const events = await h.eventsFor("doomed");
    assert.ok(events.some((e) => e.startsWith("Warning JobFailed")), events.join("\n"));
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: a missing Agent keeps the Task Pending until the Agent appears", async () => {
  const h = await TaskHarness.start();
  try {
    await h.task("waiting", { agentRef: "late", description: "patience" });
    const pending = await eventually("AgentNotFound", async () => {
      const t = await h.get("task", "waiting");
      return condition(t, "Ready")?.reason === "AgentNotFound" ? t : undefined;
    });
    assert.equal(pending.status.phase, "Pending");
    assert.match(condition(pending, "Ready").message, new RegExp(`"late".*"${h.ns}"`));
    assert.equal(await h.get("job", "waiting"), undefined);
    const events = await h.eventsFor("waiting");
    assert.ok(events.some((e) => e.startsWith("Warning AgentNotFound")), events.join("\n"));

    await h.agent("late");
    await h.waitForPhase("waiting", "Completed");
  } finally {
    await h.cleanup();
  }
});

Deno.test('task: without agentRef or an Agent "default", the built-in Agent runs the Task', async () => {
  const h = await TaskHarness.start();
  try {
    await h.task("plain", { description: "hello" });
    const job = await eventually("Job", () => h.get("job", "plain"));
    const pod = job.spec.template.spec;
    assert.equal(pod.containers[0].image, "quay.io/kubetask/kubetask-agent-gemini:latest");
    assert.equal(pod.serviceAccountName, "default");
    // The namespace's default ServiceAccount, but not its token: the pod the
    // Job controller created has no token volume.
    assert.equal(pod.automountServiceAccountToken, false);
    const created = await eventually(
      "the pod of plain",
      async () => (await h.list("pods")).find((p) => p.metadata.labels?.["job-name"] === "plain"),
    );
    const volumes = created.spec.volumes.map((v: Json) => v.name);
    console.log(`built-in Agent pod volumes: ${volumes.join(", ")}`);
    assert.ok(!volumes.some((v: string) => v.startsWith("kube-api-access")), volumes.join(", "));
    await h.waitForPhase("plain", "Completed");
    const events = await h.eventsFor("plain");
    assert.ok(events.some((e) => e.startsWith("Normal BuiltInAgent")), events.join("\n"));
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: a missing ConfigMap fails the Task clearly and creates no Job", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default");
    await h.context("cfg", { type: "ConfigMap", configMap: { name: "absent" } });
    await h.task("nocm", { contexts: [{ name: "cfg", mountPath: "/workspace/cfg" }] });
    const task = await h.waitForPhase("nocm", "Failed");
    assert.equal(condition(task, "Succeeded")?.reason, "ConfigMapNotFound");
    assert.match(condition(task, "Succeeded")?.message, /ConfigMap "absent"/);
    assert.equal(await h.get("job", "nocm"), undefined);
    const events = await h.eventsFor("nocm");
    assert.ok(events.some((e) => e.startsWith("Warning ConfigMapNotFound")), events.join("\n"));
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: a restarted manager adopts the existing Job instead of creating another", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", { podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } } });
    await h.task("long", { description: "take your time" });
    await eventually("Job exists", () => h.get("job", "long"));
    await h.stopManager();
    // As if the operator died between creating the Job and recording it.
    await kubectl([
      "patch",
      "task",
      "long",
      "-n",
      h.ns,
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":null}',
    ]);
    await h.startManager();
    const running = await h.waitForPhase("long", "Running");
    assert.equal(running.status.jobName, "long");
    const jobs = await h.list("jobs");
    assert.deepEqual(jobs.map((j: Json) => j.metadata.name), ["long"]);
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: KubeTaskConfig ttl deletes the finished Task, its Job and ConfigMap", async () => {
  const h = await TaskHarness.start();
  try {
    await h.apply({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "KubeTaskConfig",
      metadata: { name: "default" },
      spec: { taskLifecycle: { ttlSecondsAfterFinished: 2 } },
    });
    await h.agent("default");
    await h.task("brief", { description: "quick" });
    const done = await h.waitForPhase("brief", "Completed");
    const cmName = `${done.metadata.name}-context`;
    assert.ok(await h.get("configmap", cmName));
    await eventually("Task deleted", async () => (await h.get("task", "brief")) === undefined);
    await eventually(
      "Job and ConfigMap garbage-collected",
      async () =>
        (await h.get("job", "brief")) === undefined &&
        (await h.get("configmap", cmName)) === undefined,
    );
  } finally {
    await h.cleanup();
  }
});

Deno.test("task: KubeTaskConfig maxFinishedTasks keeps only the newest finished Tasks", async () => {
  const h = await TaskHarness.start();
  try {
    await h.apply({
      apiVersion: "kubetask.io/v1alpha1",
      kind: "KubeTaskConfig",
      metadata: { name: "default" },
      spec: { taskLifecycle: { maxFinishedTasks: 2 } },
    });
    await h.agent("default");
    // One after the other, so completion times are ordered.
    for (const name of ["r1", "r2", "r3", "r4"]) {
      await h.task(name);
      await h.waitForPhase(name, "Completed");
    }
    const left = await eventually("only two finished Tasks left", async () => {
      const tasks = await h.list("tasks");
      return tasks.length === 2 ? tasks : undefined;
    });
    assert.deepEqual(left.map((t: Json) => t.metadata.name).sort(), ["r3", "r4"]);
  } finally {
    await h.cleanup();
  }
});
