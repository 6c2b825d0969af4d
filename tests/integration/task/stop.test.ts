// Stop (annotation) in each phase, and a timeout on a pod that would run
// forever: the Task ends with reason Stopped or Timeout, a running agent's pod
// is ended by the (simulated) kubelet and kept, a pod-less Job is suspended.
import assert from "assert";
import { eventually, kubectl } from "../env.ts";
import { condition, type Json, TaskHarness } from "./harness.ts";

const HOLD = { podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } } };

async function stop(h: TaskHarness, name: string, annotation = "kubetask.io/stop") {
  await kubectl(["annotate", "task", name, "-n", h.ns, `${annotation}=true`]);
}

async function endedWith(h: TaskHarness, name: string, reason: string): Promise<Json> {
  const task = await h.waitForPhase(name, "Failed", 90_000);
  assert.equal(condition(task, "Succeeded")?.reason, reason);
  assert.ok(task.status.completionTime);
  return task;
}

const podsOf = async (h: TaskHarness, job: string) =>
  (await h.list("pods")).filter((p: Json) => p.metadata.labels?.["job-name"] === job);

Deno.test("stop: a Pending Task (its Agent missing) never starts a Job", async () => {
  const h = await TaskHarness.start();
  try {
    await h.task("waiting", { agentRef: "not-yet" });
    await h.waitForPhase("waiting", "Pending");
    await stop(h, "waiting");
    await endedWith(h, "waiting", "Stopped");
    await h.agent("not-yet");
    assert.equal((await h.list("jobs")).length, 0);
    assert.ok((await h.eventsFor("waiting")).some((e) => e.startsWith("Normal Stopped")));
  } finally {
    await h.cleanup();
  }
});

Deno.test("stop: a Job without a pod yet is suspended", async () => {
  const h = await TaskHarness.start();
  try {
    // Pod Security refuses the pod, so the Job exists and has none.
    await kubectl(["label", "namespace", h.ns, "pod-security.kubernetes.io/enforce=restricted"]);
    await h.agent("default");
    await h.task("no-pod");
    await eventually("FailedCreate shown", async () => {
      const t = await h.get("task", "no-pod");
      return condition(t, "Ready")?.reason === "FailedCreate";
    }, 90_000);
    await stop(h, "no-pod", "kubetask.io/terminate");
    await endedWith(h, "no-pod", "Stopped");
    const job = await h.get("job", "no-pod");
    assert.equal(job.spec.suspend, true);
  } finally {
    await h.cleanup();
  }
});

Deno.test("stop: a Running agent is ended by the kubelet and its pod is kept for its logs", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", HOLD);
    await h.task("long");
    await h.waitForPhase("long", "Running");
    await stop(h, "long");
    const task = await endedWith(h, "long", "Stopped");
    assert.match(condition(task, "Succeeded").message, /stopped on request/);
    const [pod] = await podsOf(h, "long");
    assert.ok(pod, "the pod is still there");
    assert.equal(pod.status.phase, "Failed");
    assert.equal(pod.status.reason, "DeadlineExceeded");
    assert.ok(pod.spec.activeDeadlineSeconds >= 1);
    const job = await h.get("job", "long");
    assert.notEqual(job.spec.suspend, true, "a running Job is not suspended: that deletes pods");
  } finally {
    await h.cleanup();
  }
});

Deno.test("timeout: an agent that would run forever fails with reason Timeout", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", { ...HOLD, timeout: "1h" });
    await h.task("forever", { timeout: "3s" }); // the Task's own timeout wins
    const job = await eventually("Job", () => h.get("job", "forever"));
    assert.equal(job.metadata.annotations["kubetask.io/timeout-seconds"], "3");
    const task = await endedWith(h, "forever", "Timeout");
    assert.match(condition(task, "Succeeded").message, /longer than its timeout \(3s\)/);
    assert.ok((await h.eventsFor("forever")).some((e) => e.startsWith("Warning Timeout")));
    const [pod] = await podsOf(h, "forever");
    assert.equal(pod?.status.reason, "DeadlineExceeded");
  } finally {
    await h.cleanup();
  }
});
