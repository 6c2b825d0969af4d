// Observe only observes, the plan decides, the ledger follows apply: on the
// in-memory fake, what each step of a Task reconcile may read and change.
import assert from "assert";
import { ConfigMapResource, JobResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, ContextResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { Capacity, SlotLedger } from "../../../controllers/task/capacity.ts";
import { taskController } from "../../../controllers/task/controller.ts";
import { observeTask } from "../../../controllers/task/observe.ts";
import { decide } from "../../../controllers/task/plan.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = (name: string) => ({ kind: "Task", namespace: NS, name });

/** An Agent with a limit of one, a ConfigMap Context, and Tasks that mount it. */
function setup(names: string[]): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(taskController);
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { agentImage: "agent:1", serviceAccountName: "sa", maxConcurrentTasks: 1 },
  });
  c.seed(ContextResource, {
    metadata: { namespace: NS, name: "guide" },
    spec: { type: "ConfigMap", configMap: { name: "guides", key: "a.md" } },
  });
  c.seed(ConfigMapResource, { metadata: { namespace: NS, name: "guides" }, data: { "a.md": "A" } });
  names.forEach((name, i) =>
    c.seed(TaskResource, {
      metadata: { namespace: NS, name, creationTimestamp: `2030-01-01T00:00:0${i}Z` },
      spec: { description: name, contexts: [{ name: "guide" }] },
    })
  );
  return c;
}

Deno.test("observe: reads no clock, no live object for a Task waiting for a slot, and leaves the ledger alone", async () => {
  const c = setup(["t1", "t2"]);
  const ledger = new SlotLedger();
  ledger.reserve(c.get<KubeObject>(TaskResource, NS, "t1")!);
  const ctx = c.context(() => {
    throw new Error("observe read the clock");
  });
  const facts = await observeTask(req("t2"), ctx, ledger);
  assert.ok(facts);
  assert.equal(facts.agent?.kind, "found");
  assert.deepEqual(facts.slots, { limit: 1, held: false, running: 1, place: 0 });
  assert.equal(facts.contexts, undefined, "Contexts are not resolved by observe");
  assert.equal(c.calls.length, 0, "no request at all");
  assert.ok(ledger.has(c.get<KubeObject>(TaskResource, NS, "t1")!), "the ledger is unchanged");
  // The plan decides: queued, so the Context's ConfigMap is not worth a read.
  const decisions = decide(facts, c.now);
  assert.equal(decisions.blocked?.kind, "queued");
  assert.deepEqual(decisions.reads, { pods: false, contexts: false });
});

Deno.test("reconcile: the clock is read once, and a queued Task's Contexts are never read", async () => {
  const c = setup(["t1", "t2"]);
  const capacity = new Capacity();
  let reads = 0;
  const ctx = c.context(() => (reads++, c.now));
  await reconcileTask(req("t1"), ctx, undefined, capacity);
  assert.equal(reads, 1, "one clock read per reconcile");
  // Running: whether to stop it is decided once, at that one time.
  c.mutate(
    JobResource,
    NS,
    "t1",
    (j) => (j.status = { active: 1, startTime: c.now.toISOString() }),
  );
  await reconcileTask(req("t1"), ctx, undefined, capacity);
  assert.equal(reads, 2);
  const calls = c.calls.length;
  await reconcileTask(req("t2"), ctx, undefined, capacity);
  assert.equal(reads, 3);
  assert.equal(c.stored<KubeObject>(TaskResource, NS, "t2")?.status?.phase, "Queued");
  assert.deepEqual(
    c.calls.slice(calls).filter((x) => x.verb === "get" || x.verb === "list"),
    [],
    "waiting costs no live read",
  );
});

Deno.test("capacity: the ledger holds a slot only for a Job apply created or adopted", async () => {
  // A failed create before the Job: no slot is held, the next Task may start.
  const c = setup(["t1", "t2"]);
  c.laggingCache = true;
  c.sync();
  const capacity = new Capacity();
  const create = c.create.bind(c);
  c.create = (type, obj) =>
    type.plural === "configmaps" ? Promise.reject(new Error("apiserver down")) : create(type, obj);
  await assert.rejects(reconcileTask(req("t1"), c.context(), undefined, capacity));
  assert.equal(capacity.ledger.has(c.get<KubeObject>(TaskResource, NS, "t1")!), false);

  // Created: held until the cache shows the Job, so t2 waits meanwhile.
  c.create = create;
  await reconcileTask(req("t1"), c.context(), undefined, capacity);
  const t1 = c.get<KubeObject>(TaskResource, NS, "t1")!;
  assert.ok(capacity.ledger.has(t1));
  await reconcileTask(req("t2"), c.context(), undefined, capacity);
  assert.deepEqual(c.storedList<KubeObject>(JobResource).map((j) => j.metadata?.name), ["t1"]);

  // Once the cache shows the Job, the next apply for the Agent forgets the reservation.
  c.sync();
  await reconcileTask(req("t2"), c.context(), undefined, capacity);
  assert.equal(capacity.ledger.has(t1), false);
  assert.equal(c.stored<KubeObject>(TaskResource, NS, "t2")?.status?.phase, "Queued");
});

Deno.test("capacity: a Job adopted (the cache missed our create) holds the slot too", async () => {
  const c = setup(["t1", "t2"]);
  await reconcileTask(req("t1"), c.context(), undefined, new Capacity());
  // A new process whose cache has neither the Job nor the status yet.
  c.mutate(TaskResource, NS, "t1", (t) => delete t.status);
  c.laggingCache = true;
  c.sync();
  const job = c.stored<KubeObject>(JobResource, NS, "t1")!;
  const get = c.get.bind(c);
  c.get = <T extends KubeObject>(type: typeof JobResource, ns: string, name: string) =>
    type.plural === "jobs" && name === job.metadata?.name ? undefined : get<T>(type, ns, name);
  const capacity = new Capacity();
  await reconcileTask(req("t1"), c.context(), undefined, capacity);
  assert.ok(capacity.ledger.has(c.get<KubeObject>(TaskResource, NS, "t1")!), "adopted, then held");
});
