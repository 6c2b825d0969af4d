// Whether the agent started, read from its pod's status: each state the
// kubelet and the scheduler report, as the Task's reason and message.
import assert from "assert";
import {
  mapPodToTask,
  podForCache,
  podProgress,
  steadyProgress,
} from "../../../controllers/task/pod_progress.ts";
import { startupDeadlineOf, startupTimeoutSecondsOf } from "../../../controllers/task/startup.ts";
import type { Agent, Task } from "../../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const waiting = (name: string, reason: string, message?: string, image = "img:1") => ({
  name,
  image,
  state: { waiting: { reason, ...(message ? { message } : {}) } },
});

function pod(status: KubeObject, name = "p-1", created = "2030-01-01T00:00:00Z"): KubeObject {
  return {
    metadata: { name, creationTimestamp: created },
    status: { phase: "Pending", ...status },
  };
}

Deno.test("pod progress: no pod, a running agent, a running clone", () => {
  assert.deepEqual(podProgress([]), { kind: "noPod" });
  const running = { name: "agent", image: "a", state: { running: { startedAt: "x" } } };
  assert.deepEqual(podProgress([pod({ phase: "Running", containerStatuses: [running] })]), {
    kind: "started",
  });
  const clone = { name: "git-clone-0", image: "g", state: { running: { startedAt: "x" } } };
  assert.deepEqual(
    podProgress([pod({
      initContainerStatuses: [clone],
      containerStatuses: [waiting("agent", "PodInitializing")],
    })]),
    { kind: "started" },
  );
});

Deno.test("pod progress: an image that does not pull names the image and the kubelet's message", () => {
  for (const reason of ["ErrImagePull", "ImagePullBackOff"]) {
    const p = podProgress([pod({
      containerStatuses: [waiting("agent", reason, 'Back-off pulling image "nope:1"', "nope:1")],
    })]);
    assert.equal(p.kind, "held");
    if (p.kind !== "held") continue;
    assert.equal(p.reason, reason);
    assert.match(p.message, /container "agent" cannot pull image "nope:1": Back-off pulling/);
  }
  // Even after a clone ran: the agent does not run.
  const done = { name: "git-clone-0", state: { terminated: { exitCode: 0 } } };
  const after = podProgress([pod({
    initContainerStatuses: [done],
    containerStatuses: [waiting("agent", "ImagePullBackOff", "back-off")],
  })]);
  assert.equal(after.kind === "held" && after.reason, "ImagePullBackOff");
});

Deno.test("pod progress: a missing Secret is CreateContainerConfigError with the kubelet's words", () => {
  const p = podProgress([pod({
    containerStatuses: [
      waiting("agent", "CreateContainerConfigError", 'secret "llm-key" not found'),
    ],
  })]);
  assert.deepEqual(p.kind === "held" && [p.reason, p.message], [
    "CreateContainerConfigError",
    'pod "p-1": container "agent" cannot be created: secret "llm-key" not found',
  ]);
});

Deno.test("pod progress: unschedulable quotes the scheduler; otherwise PodPending", () => {
  const message = "0/1 nodes are available: 1 Insufficient cpu.";
  const p = podProgress([pod({
    conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }],
  })]);
  assert.deepEqual(p.kind === "held" && [p.reason, p.message], [
    "Unschedulable",
    `pod "p-1" cannot be scheduled: ${message}`,
  ]);
  // The ordinary steps of a start say nothing more (each change would be a status write).
  for (const status of [{}, { containerStatuses: [waiting("agent", "ContainerCreating")] }]) {
    const p = podProgress([pod(status)]);
    assert.deepEqual(p.kind === "held" && [p.reason, p.message], [
      "PodPending",
      'pod "p-1" is Pending',
    ]);
  }
  const odd = podProgress([
    pod({ containerStatuses: [waiting("agent", "CreateContainerError", "no such file")] }),
  ]);
  assert.equal(
    odd.kind === "held" && odd.message,
    'pod "p-1" is Pending: CreateContainerError (no such file)',
  );
});

Deno.test("pod progress: a failed clone gives its exit code and its last log lines", () => {
  const failed = {
    name: "git-clone-0",
    state: {
      terminated: { exitCode: 128, reason: "Error", message: "fatal: repository not found\n" },
    },
  };
  const p = podProgress([pod({ phase: "Failed", initContainerStatuses: [failed] })]);
  assert.deepEqual(p.kind === "held" && [p.reason, p.message], [
    "InitContainerFailed",
    'pod "p-1": init container "git-clone-0" exited with code 128 (Error): ' +
    "fatal: repository not found",
  ]);
});

Deno.test("pod progress: the newest pod not being deleted counts", () => {
  const old = pod(
    { containerStatuses: [waiting("agent", "ErrImagePull")] },
    "old",
    "2030-01-01T00:00:00Z",
  );
  const gone = { ...pod({}, "gone", "2030-01-01T00:02:00Z") };
  gone.metadata!.deletionTimestamp = "2030-01-01T00:03:00Z";
  const now = pod(
    { containerStatuses: [waiting("agent", "CreateContainerConfigError", "x")] },
    "new",
    "2030-01-01T00:01:00Z",
  );
  const p = podProgress([now, gone, old]);
  assert.equal(p.kind === "held" && p.reason, "CreateContainerConfigError");
});

Deno.test("pod progress: ErrImagePull and ImagePullBackOff alternating is one steady reason", () => {
  const held = { kind: "held" as const, reason: "ErrImagePull" as const, message: "new words" };
  const shown = {
    conditions: [{
      type: "Succeeded",
      status: "Unknown" as const,
      reason: "ImagePullBackOff",
      message: "old words",
      lastTransitionTime: "t",
    }],
  };
  assert.deepEqual(steadyProgress(held, shown), {
    kind: "held",
    reason: "ImagePullBackOff",
    message: "old words",
  });
  // Any other reason shown: the new one is said.
  shown.conditions[0].reason = "PodPending";
  assert.deepEqual(steadyProgress(held, shown), held);
});

Deno.test("pod cache: keeps states and a failed clone's log end, not the agent's report or the spec", () => {
  const raw: KubeObject = {
    metadata: {
      name: "p",
      namespace: "ns",
      uid: "u",
      resourceVersion: "7",
      creationTimestamp: "t",
      labels: { a: "b" },
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "j",
        uid: "ju",
        controller: true,
      }],
      annotations: { big: "x" },
    },
    spec: { containers: [{ name: "agent", env: [{ name: "K", value: "v" }] }] },
    status: {
      phase: "Failed",
      conditions: [{ type: "Ready", status: "False" }, { type: "PodScheduled", status: "True" }],
      initContainerStatuses: [{
        name: "git-clone-0",
        image: "g",
        imageID: "sha",
        state: { terminated: { exitCode: 1, message: "x".repeat(2000) + "END" } },
      }],
      containerStatuses: [{
        name: "agent",
        image: "a",
        state: { terminated: { exitCode: 0, message: "::kubetask-output pr=secret-ish::" } },
      }],
    },
  };
  const kept = podForCache(raw);
  assert.equal(kept.spec, undefined);
  assert.equal(kept.metadata?.annotations, undefined);
  assert.deepEqual(kept.status?.conditions, [{
    type: "PodScheduled",
    status: "True",
    reason: undefined,
    message: undefined,
  }]);
  const clone = kept.status?.initContainerStatuses[0].state.terminated;
  assert.equal(clone.message.length, 512);
  assert.ok(clone.message.endsWith("END"));
  assert.equal(kept.status?.containerStatuses[0].state.terminated.message, undefined);
  assert.equal(kept.status?.initContainerStatuses[0].imageID, undefined);
});

Deno.test("pod map: a pod wakes the Task of the cached Job controlling it, and no other", () => {
  const c = new FakeCluster();
  const job: KubeObject = c.seed(JobResource, {
    metadata: {
      namespace: "ns",
      name: "j",
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        name: "t",
        uid: "tu",
        controller: true,
      }],
    },
  });
  const owned = (uid: string): KubeObject => ({
    metadata: {
      namespace: "ns",
      name: "p",
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "j", uid, controller: true }],
    },
  });
  assert.deepEqual(mapPodToTask(owned(job.metadata!.uid!), c), [{
    kind: "Task",
    namespace: "ns",
    name: "t",
  }]);
  // A pod naming the Job with another uid (a namesake, or forged) wakes nobody.
  assert.deepEqual(mapPodToTask(owned("forged"), c), []);
});

Deno.test("startup timeout: the Agent's, default 10m; a Task may only shorten it", () => {
  const agent = (startupTimeout?: string) =>
    ({ metadata: {}, spec: { ...(startupTimeout ? { startupTimeout } : {}) } }) as unknown as Agent;
  const task = (startupTimeout?: string) =>
    ({ metadata: {}, spec: { ...(startupTimeout ? { startupTimeout } : {}) } }) as unknown as Task;
  assert.equal(startupTimeoutSecondsOf(task(), agent()), 600);
  assert.equal(startupTimeoutSecondsOf(task(), agent("2m")), 120);
  assert.equal(startupTimeoutSecondsOf(task("20s"), agent("2m")), 20);
  assert.equal(startupTimeoutSecondsOf(task("1h"), agent("2m")), 120);
  // Counted from the Job's creation; a Job from before the annotation gets the default.
  const job = (annotations: Record<string, string>) => ({
    metadata: { creationTimestamp: "2030-01-01T00:00:00Z", annotations },
  });
  assert.equal(
    startupDeadlineOf(job({ "kubetask.io/startup-timeout-seconds": "20" })),
    Date.parse("2030-01-01T00:00:20Z"),
  );
  assert.equal(startupDeadlineOf(job({})), Date.parse("2030-01-01T00:10:00Z"));
});
