// An Agent with queueName: its Jobs go through Kueue. On the in-memory fake:
// the Job is created suspended with Kueue's labels, the Task says what Kueue
// says while it waits, follows the Job once admitted, and a stop or a
// preemption after the agent started never lets Kueue start it (again).
import assert from "assert";
import { JobResource, PodResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { createTaskController } from "../../../controllers/task/controller.ts";
import {
  KUEUE_PRIORITY_LABEL,
  KUEUE_QUEUE_LABEL,
  kueueHold,
  workloadMessage,
  WorkloadResource,
} from "../../../controllers/task/kueue.ts";
import { agent as agentSchema } from "../../../api/v1alpha1/index.ts";
import { DEFAULT_JOB_SETTINGS } from "../../../controllers/task/job.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = { kind: "Task", namespace: NS, name: "fix" };
const settings = { ...DEFAULT_JOB_SETTINGS, kueue: true };
const NO_QUOTA = "couldn't assign flavors to pod set main: insufficient unused quota for cpu " +
  "in flavor default-flavor, 1 more needed";

function setup(agentSpec: Record<string, unknown> = { queueName: "team-q" }): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(createTaskController(settings));
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default", uid: "agent-uid" },
    spec: {
      agentImage: "agent:1",
      serviceAccountName: "sa",
      workspaceDir: "/workspace",
      ...agentSpec,
    },
  });
  c.seed(TaskResource, { metadata: { namespace: NS, name: "fix" }, spec: { description: "Fix" } });
  return c;
}

const reconcile = (c: FakeCluster) => reconcileTask(req, c.context(), settings);
const statusOf = (c: FakeCluster) => c.stored<KubeObject>(TaskResource, NS, "fix")!.status;
const succeeded = (c: FakeCluster) =>
  statusOf(c).conditions.find((x: { type: string }) => x.type === "Succeeded");

/** Kueue's Workload for the Job, as Kueue writes it (owned by the Job). */
function workload(c: FakeCluster, conditions: Record<string, string>[]) {
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.seed(WorkloadResource, {
    metadata: {
      namespace: NS,
      name: "job-fix-1a2b3",
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "fix",
        uid: job.metadata!.uid!,
        controller: true,
      }],
    },
    spec: { queueName: "team-q" },
    status: { conditions },
  });
}

function admit(c: FakeCluster) {
  c.mutate(JobResource, NS, "fix", (job) => {
    job.spec.suspend = false;
    job.status = { startTime: "2029-12-31T23:59:00Z", active: 1 };
  });
}

/** The agent's pod, its container running (the agent started). */
function runningPod(c: FakeCluster) {
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  c.seed(PodResource, {
    metadata: {
      namespace: NS,
      name: "fix-pod",
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
    status: {
      phase: "Running",
      startTime: "2029-12-31T23:59:01Z",
      containerStatuses: [{
        name: "agent",
        state: { running: { startedAt: "2029-12-31T23:59:02Z" } },
      }],
    },
  });
}

Deno.test("kueue: the Job is created suspended with the queue and priority labels", async () => {
  const c = setup({ queueName: "team-q", priorityClassName: "high" });
  await reconcile(c);
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  assert.equal(job.spec.suspend, true);
  assert.equal(job.metadata!.labels![KUEUE_QUEUE_LABEL], "team-q");
  assert.equal(job.metadata!.labels![KUEUE_PRIORITY_LABEL], "high");
  // On the Job only: the pod's labels are ours and the Agent's.
  assert.equal(job.spec.template.metadata.labels[KUEUE_QUEUE_LABEL], undefined);
});

Deno.test("kueue: an Agent without queueName creates its Job unsuspended, without Kueue's labels", async () => {
  const c = setup({});
  await reconcile(c);
  const job = c.stored<KubeObject>(JobResource, NS, "fix")!;
  assert.equal(job.spec.suspend, undefined);
  assert.equal(job.metadata!.labels![KUEUE_QUEUE_LABEL], undefined);
});

Deno.test("kueue: waiting for admission the Task is Queued with the Workload's message, then Running", async () => {
  const c = setup();
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Queued");
  assert.equal(succeeded(c).reason, "KueueAdmissionPending");
  assert.match(succeeded(c).message, /waiting for Kueue to create the Job's Workload/);
  // Not started: no startTime while Kueue holds it.
  assert.equal(statusOf(c).startTime, undefined);

  workload(c, [{ type: "QuotaReserved", status: "False", reason: "Pending", message: NO_QUOTA }]);
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Queued");
  assert.equal(succeeded(c).reason, "KueueAdmissionPending");
  assert.equal(
    succeeded(c).message,
    `Kueue Workload "job-fix-1a2b3" (LocalQueue "team-q"): ${NO_QUOTA}`,
  );

  admit(c);
  runningPod(c);
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Running");
  assert.ok(statusOf(c).startTime);
});

Deno.test("kueue: a stop while the Job waits in Kueue deletes it, so Kueue never starts it", async () => {
  const c = setup();
  await reconcile(c);
  workload(c, [{ type: "QuotaReserved", status: "False", reason: "Pending", message: NO_QUOTA }]);
  c.mutate(TaskResource, NS, "fix", (t) => {
    t.metadata = { ...t.metadata, annotations: { "kubetask.io/stop": "true" } };
  });
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(succeeded(c).reason, "Stopped");
  assert.equal(c.stored(JobResource, NS, "fix"), undefined, "the Job is deleted");
  assert.ok(c.writes().includes("delete jobs/fix"));
  assert.ok(c.events.some((e) => e.reason === "KueueJobDeleted"));
});

Deno.test("kueue: preempted before the agent started, the Task is Queued again (Preempted)", async () => {
  const c = setup();
  await reconcile(c);
  admit(c);
  await reconcile(c); // admitted, pod not yet there: Pending
  assert.equal(statusOf(c).phase, "Pending");
  c.mutate(JobResource, NS, "fix", (job) => {
    job.spec.suspend = true;
    job.status = {};
  });
  workload(c, [
    {
      type: "Evicted",
      status: "True",
      reason: "Preempted",
      message:
        "Preempted to accommodate a workload (UID: u1) due to prioritization in the ClusterQueue",
    },
    { type: "QuotaReserved", status: "False", reason: "Pending", message: NO_QUOTA },
  ]);
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Queued");
  assert.equal(succeeded(c).reason, "Preempted");
  assert.match(succeeded(c).message, /the agent had not started/);
  assert.ok(c.stored(JobResource, NS, "fix"), "kept: Kueue admits it again later");
});

Deno.test("kueue: preempted after the agent started, the Task fails (Preempted) and its Job is deleted", async () => {
  const c = setup();
  await reconcile(c);
  admit(c);
  runningPod(c);
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Running");
  c.mutate(JobResource, NS, "fix", (job) => {
    job.spec.suspend = true;
    job.status = { conditions: [{ type: "Suspended", status: "True" }] };
  });
  workload(c, [{
    type: "Evicted",
    status: "True",
    reason: "Preempted",
    message: "Preempted to accommodate a higher priority workload",
  }]);
  await reconcile(c);
  assert.equal(statusOf(c).phase, "Failed");
  assert.equal(succeeded(c).reason, "Preempted");
  assert.match(succeeded(c).message, /not restarted/);
  assert.equal(c.stored(JobResource, NS, "fix"), undefined, "Kueue must not run it again");
});

Deno.test("kueue: no timeout runs while Kueue holds the Job", async () => {
  const c = setup({ queueName: "team-q", timeout: "1m" });
  await reconcile(c);
  // A startTime left from before a preemption, long past the timeout.
  c.mutate(JobResource, NS, "fix", (job) => {
    job.status = { startTime: "2029-12-31T00:00:00Z" };
  });
  const result = await reconcile(c);
  assert.equal(statusOf(c).phase, "Queued");
  assert.equal(result.requeueAfterMs, undefined, "no deadline to wake up for");
});

Deno.test("kueue: maxConcurrentTasks applies before Kueue (a Job waiting in Kueue holds its slot)", async () => {
  const c = setup({ queueName: "team-q", maxConcurrentTasks: 1 });
  await reconcile(c);
  c.seed(TaskResource, {
    metadata: { namespace: NS, name: "second", creationTimestamp: "2030-01-01T00:00:01Z" },
    spec: { description: "More" },
  });
  await reconcileTask({ ...req, name: "second" }, c.context(), settings);
  assert.equal(c.stored(JobResource, NS, "second"), undefined);
  const second = c.stored<KubeObject>(TaskResource, NS, "second")!;
  assert.equal(second.status.phase, "Queued");
  assert.equal(
    second.status.conditions.find((x: { type: string }) => x.type === "Ready").reason,
    "AgentAtCapacity",
  );
});

Deno.test("kueue: workloadMessage prefers QuotaReserved, then Admitted", () => {
  const wl = (conditions: Record<string, string>[]) => ({
    metadata: { name: "w" },
    status: { conditions },
  });
  assert.equal(
    workloadMessage(
      wl([{ type: "QuotaReserved", status: "True", message: "ok" }, {
        type: "Admitted",
        status: "False",
        message: "checks pending",
      }]),
      "q",
    ),
    'Kueue Workload "w" (LocalQueue "q"): checks pending',
  );
  assert.match(workloadMessage(wl([]), "q"), /waiting for Kueue to admit it/);
  assert.equal(
    kueueHold({ metadata: { labels: {} }, spec: { suspend: true } }, undefined, false),
    undefined,
  );
});

Deno.test("kueue: queueName and priorityClassName are DNS labels; priorityClassName needs queueName", () => {
  const parse = (spec: Record<string, unknown>) =>
    agentSchema.safeParse({ metadata: { name: "a" }, spec: { serviceAccountName: "sa", ...spec } });
  assert.ok(parse({ queueName: "team-q", priorityClassName: "high" }).success);
  for (const bad of ["Team", "a/b", "../x", "q.x", "-q", "a".repeat(64), ""]) {
    assert.ok(!parse({ queueName: bad }).success, `queueName ${JSON.stringify(bad)} is refused`);
    assert.ok(
      !parse({ queueName: "q", priorityClassName: bad }).success,
      `priorityClassName ${JSON.stringify(bad)} is refused`,
    );
  }
});
