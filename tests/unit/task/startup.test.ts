// The Task reconciler, on the fake, while its pod does not start the agent:
// Pending with the reason that holds it, one Warning per reason, a timer to
// the startup deadline, then Failed with that reason and the Job suspended.
// And a result the bounds cut is said in a condition and a Warning.
import assert from "assert";
import { JobResource, PodResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { taskController } from "../../../controllers/task/controller.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = { kind: "Task", namespace: NS, name: "fix" };

function setup(taskSpec: KubeObject = {}): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { agentImage: "nope:1", serviceAccountName: "sa", startupTimeout: "2m" },
  });
  c.seed(TaskResource, {
    metadata: { namespace: NS, name: "fix" },
    spec: { description: "Fix it", ...taskSpec },
  });
  return c;
}

const statusOf = (c: FakeCluster) => c.stored<KubeObject>(TaskResource, NS, "fix")?.status;
const cond = (c: FakeCluster, type: string) =>
  statusOf(c)?.conditions?.find((x: { type: string }) => x.type === type);

/** The Job's pod, as the Job controller creates it and the kubelet reports it. */
function seedPod(c: FakeCluster, status: KubeObject): void {
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 1, startTime: job.metadata?.creationTimestamp };
  });
  c.seed(PodResource, {
    metadata: {
      namespace: NS,
      name: "fix-abcde",
      labels: {
        "kubetask.io/task": "fix",
        "batch.kubernetes.io/controller-uid": job.metadata!.uid!,
      },
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "fix",
        uid: job.metadata!.uid!,
        controller: true,
      }],
    },
    status: { phase: "Pending", ...status },
  });
}

const pulling = (reason: string) => ({
  conditions: [{ type: "PodScheduled", status: "True" }],
  containerStatuses: [{
    name: "agent",
    image: "nope:1",
    state: { waiting: { reason, message: 'Back-off pulling image "nope:1"' } },
  }],
});

Deno.test("startup: a pod whose image does not pull keeps the Task Pending, then fails it at the startup timeout", async () => {
  const c = setup({ startupTimeout: "20s" });
  await reconcileTask(req, c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  // The Task's shorter one is recorded on the Job, counted from its creation.
  assert.equal(job.metadata?.annotations?.["kubetask.io/startup-timeout-seconds"], "20");

  seedPod(c, pulling("ErrImagePull"));
  c.now = new Date("2030-01-01T00:00:05Z");
  const result = await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Pending");
  assert.equal(cond(c, "Ready")?.status, "False");
  assert.equal(cond(c, "Ready")?.reason, "ErrImagePull");
  assert.match(cond(c, "Ready")?.message, /cannot pull image "nope:1": Back-off pulling/);
  assert.equal(cond(c, "Succeeded")?.reason, "ErrImagePull");
  // One timer, to the startup deadline: no polling.
  assert.deepEqual(result, { requeueAfterMs: 15_000 });
  const warnings = () => c.events.filter((e) => e.type === "Warning").map((e) => e.reason);
  assert.deepEqual(warnings(), ["ErrImagePull"]);

  // The kubelet's next retry says ImagePullBackOff: the same trouble, no new Event or write.
  c.mutate(PodResource, NS, "fix-abcde", (p) => {
    p.status = { ...p.status, ...pulling("ImagePullBackOff") };
  });
  const writes = c.calls.filter((x) => x.verb === "updateStatus").length;
  await reconcileTask(req, c.context());
  assert.equal(c.calls.filter((x) => x.verb === "updateStatus").length, writes);
  assert.deepEqual(warnings(), ["ErrImagePull"]);

  // Past the deadline: Failed with the holding reason; the Job is suspended (no pod to keep).
  c.now = new Date("2030-01-01T00:00:20Z");
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(cond(c, "Succeeded")?.status, "False");
  assert.equal(cond(c, "Succeeded")?.reason, "ErrImagePull");
  assert.match(cond(c, "Succeeded")?.message, /nope:1.*startup timeout of 20s/);
  assert.ok(statusOf(c)?.completionTime);
  assert.equal(c.stored<KubeObject>(JobResource, NS, "fix")?.spec?.suspend, true);
  assert.deepEqual(warnings(), ["ErrImagePull", "ErrImagePull"]);
});

Deno.test("startup: a Job that counts its pod before the pod is cached is not Running yet", async () => {
  const c = setup();
  await reconcileTask(req, c.context());
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 1, startTime: "2030-01-01T00:00:00Z" };
  });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Pending");
  assert.equal(cond(c, "Succeeded")?.reason, "JobCreated");
  assert.ok(!c.events.some((e) => e.reason === "JobRunning"));
  // Its pod finished and left the cache, the Job still counting it: Running, never back to Pending.
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = { active: 0, uncountedTerminatedPods: { succeeded: ["u"] }, startTime: "x" };
  });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Running");
});

Deno.test("startup: a Task cannot raise its Agent's startup timeout", async () => {
  const c = setup({ startupTimeout: "1h" });
  await reconcileTask(req, c.context());
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  assert.equal(job.metadata?.annotations?.["kubetask.io/startup-timeout-seconds"], "120");
});

Deno.test("startup: the Task is Running only once the agent runs, and then has no startup timer", async () => {
  const c = setup();
  await reconcileTask(req, c.context());
  seedPod(c, { conditions: [{ type: "PodScheduled", status: "True" }] });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Pending");
  assert.equal(cond(c, "Ready")?.reason, "PodPending");
  // Ordinary startup: no Event for it.
  assert.ok(!c.events.some((e) => e.reason === "PodPending"));

  c.mutate(PodResource, NS, "fix-abcde", (p) => {
    p.status = {
      phase: "Running",
      containerStatuses: [{ name: "agent", state: { running: { startedAt: "x" } } }],
    };
  });
  c.now = new Date("2030-01-01T01:00:00Z"); // long past the startup timeout: it no longer counts
  assert.deepEqual(await reconcileTask(req, c.context()), {});
  assert.equal(statusOf(c)?.phase, "Running");
  assert.equal(cond(c, "Succeeded")?.reason, "JobRunning");
  assert.equal(cond(c, "Ready")?.status, "True");

  // It finished and left the pod cache before the Job counted it: still Running, not Pending.
  c.mutate(PodResource, NS, "fix-abcde", (p) => {
    p.metadata!.deletionTimestamp = "2030-01-01T01:00:00Z";
  });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Running");
  assert.equal(c.events.filter((e) => e.reason === "JobCreated").length, 1);
});

Deno.test("startup: a stop of a held pod suspends the Job (a pod no node took never ends by deadline)", async () => {
  const c = setup();
  await reconcileTask(req, c.context());
  seedPod(c, {
    conditions: [{
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/1 nodes are available: 1 Insufficient cpu.",
    }],
  });
  await reconcileTask(req, c.context());
  assert.equal(cond(c, "Ready")?.reason, "Unschedulable");
  assert.match(cond(c, "Ready")?.message, /Insufficient cpu/);
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.metadata!.annotations = { "kubetask.io/stop": "true" };
  });
  await reconcileTask(req, c.context());
  assert.equal(c.stored<KubeObject>(JobResource, NS, "fix")?.spec?.suspend, true);
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(cond(c, "Succeeded")?.reason, "Stopped");
});

Deno.test("startup: a failed clone fails the Task as InitContainerFailed with its log's end", async () => {
  const c = setup();
  await reconcileTask(req, c.context());
  seedPod(c, {
    phase: "Failed",
    initContainerStatuses: [{
      name: "git-clone-0",
      state: { terminated: { exitCode: 128, message: "fatal: could not read Username" } },
    }],
  });
  await reconcileTask(req, c.context());
  assert.equal(cond(c, "Ready")?.reason, "InitContainerFailed");
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = {
      failed: 1,
      conditions: [{ type: "Failed", status: "True", lastTransitionTime: "2030-01-01T00:00:09Z" }],
    };
  });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Failed");
  assert.equal(cond(c, "Succeeded")?.reason, "InitContainerFailed");
  assert.match(cond(c, "Succeeded")?.message, /exited with code 128: fatal: could not read/);
});

Deno.test("results: outputs beyond the limit are recorded as dropped, with a Warning", async () => {
  const c = setup();
  await reconcileTask(req, c.context());
  const lines = Array.from({ length: 40 }, (_, i) => `::kubetask-output o${i}=v::`);
  seedPod(c, {
    phase: "Succeeded",
    containerStatuses: [{
      name: "agent",
      state: {
        terminated: {
          exitCode: 0,
          finishedAt: "2030-01-01T00:00:09Z",
          message: [...lines, "::kubetask-usage inputTokens=12x::"].join("\n"),
        },
      },
    }],
  });
  c.mutate(JobResource, NS, "fix", (j) => {
    j.status = {
      succeeded: 1,
      completionTime: "2030-01-01T00:00:10Z",
      conditions: [{ type: "Complete", status: "True" }],
    };
  });
  await reconcileTask(req, c.context());
  assert.equal(statusOf(c)?.phase, "Completed");
  assert.equal(Object.keys(statusOf(c)?.outputs ?? {}).length, 16);
  const recorded = cond(c, "ResultRecorded");
  assert.equal(recorded?.status, "True");
  assert.equal(recorded?.reason, "ResultTruncated");
  assert.match(recorded?.message, /24 output\(s\) beyond the limit of 16 \("o16", /);
  assert.match(recorded?.message, /usage inputTokens="12x" \(out of range\)/);
  const warning = c.events.find((e) => e.reason === "ResultTruncated");
  assert.equal(warning?.type, "Warning");
  assert.equal(statusOf(c)?.dropped, undefined, "not a status field");
});
