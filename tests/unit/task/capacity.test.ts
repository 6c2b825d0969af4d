// Agent.spec.maxConcurrentTasks on the in-memory fake: never over-admitted,
// in creation order, also with parallel reconciles and a lagging cache.
import assert from "assert";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { Capacity } from "../../../controllers/task/capacity.ts";
import { mapTaskToWaitingPeers, taskController } from "../../../controllers/task/controller.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const NAMES = ["t1", "t2", "t3", "t4", "t5"];

function setup(limit: number): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { agentImage: "agent:1", serviceAccountName: "sa", maxConcurrentTasks: limit },
  });
  NAMES.forEach((name, i) => {
    c.seed(TaskResource, {
      metadata: { namespace: NS, name, creationTimestamp: `2030-01-01T00:00:0${i}Z` },
      spec: { description: name },
    });
  });
  return c;
}

const jobs = (c: FakeCluster) =>
  c.storedList<KubeObject>(JobResource).map((j) => j.metadata?.name).sort();
const phase = (c: FakeCluster, name: string) =>
  c.stored<KubeObject>(TaskResource, NS, name)?.status?.phase;
const reconcileAll = (c: FakeCluster, capacity: Capacity, names = NAMES) =>
  Promise.all(
    names.map((name) =>
      reconcileTask({ kind: "Task", namespace: NS, name }, c.context(), undefined, capacity)
    ),
  );

function finish(c: FakeCluster, name: string) {
  c.mutate(JobResource, NS, name, (job) => {
    job.status = {
      conditions: [{
        type: "Complete",
        status: "True",
        lastTransitionTime: "2030-01-01T00:01:00Z",
      }],
      succeeded: 1,
    };
  });
}

Deno.test("capacity: a limit of 2 with 5 Tasks starts the 2 oldest; the rest are Queued", async () => {
  const c = setup(2);
  const capacity = new Capacity();
  // In reverse order, in parallel, with the cache behind every write.
  c.laggingCache = true;
  await reconcileAll(c, capacity, [...NAMES].reverse());
  c.sync();
  assert.deepEqual(jobs(c), ["t1", "t2"]);
  assert.deepEqual(NAMES.map((n) => phase(c, n)), [
    "Pending",
    "Pending",
    "Queued",
    "Queued",
    "Queued",
  ]);
  const queued = c.stored<KubeObject>(TaskResource, NS, "t3")?.status?.conditions;
  assert.equal(queued?.find((x: KubeObject) => x.type === "Ready")?.reason, "AgentAtCapacity");

  // Reconciling again changes nothing: the cache now shows the two Jobs.
  await reconcileAll(c, capacity);
  c.sync();
  assert.deepEqual(jobs(c), ["t1", "t2"]);

  // t1 finishes: exactly one more starts, the oldest waiting one.
  finish(c, "t1");
  c.sync();
  await reconcileAll(c, capacity);
  c.sync();
  assert.deepEqual(jobs(c), ["t1", "t2", "t3"]);
  assert.equal(phase(c, "t4"), "Queued");
  assert.equal(capacity.mutex.size, 0, "no lock left behind");
});

Deno.test("capacity: after a restart, a Job created without its status write still holds a slot", async () => {
  const c = setup(1);
  await reconcileTask(
    { kind: "Task", namespace: NS, name: "t1" },
    c.context(),
    undefined,
    new Capacity(),
  );
  // As if the operator died before recording the Job: the status is gone.
  c.mutate(TaskResource, NS, "t1", (t) => {
    delete t.status;
  });
  const fresh = new Capacity(); // a new process: empty ledger
  await reconcileAll(c, fresh, ["t2", "t3"]);
  assert.deepEqual(jobs(c), ["t1"]);
  assert.equal(phase(c, "t2"), "Queued");
});

Deno.test("capacity: a started or finished Task wakes the waiting Tasks of a limited Agent only", () => {
  const c = setup(2);
  const started = { metadata: { namespace: NS, name: "t1" }, spec: {}, status: { jobName: "t1" } };
  assert.deepEqual(mapTaskToWaitingPeers(started, c).map((r) => r.name).sort(), NAMES);
  assert.deepEqual(
    mapTaskToWaitingPeers({ metadata: { namespace: NS, name: "x" }, spec: {} }, c),
    [],
  );
  const unlimited = setup(0);
  assert.deepEqual(mapTaskToWaitingPeers(started, unlimited), []);
});
