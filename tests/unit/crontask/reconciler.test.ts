// The CronTask reconciler on the in-memory fake: the run it creates, the
// restart case with a lagging cache, and a name held by a stranger.
import assert from "assert";
import { cronTaskController } from "../../../controllers/crontask/controller.ts";
import { reconcileCronTask } from "../../../controllers/crontask/reconciler.ts";
import { CronTaskMetrics } from "../../../controllers/crontask/metrics.ts";
import { ConflictError } from "../../../controllers/runtime/types.ts";
import { CronTaskResource, TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = { kind: "CronTask", namespace: NS, name: "nightly" };
// Due at 02:00; the reconcile happens a minute later.
const NOW = new Date("2030-01-02T02:01:00Z");
const RUN = "nightly-1893549600";

function setup(): FakeCluster {
  const c = new FakeCluster();
  c.seed(CronTaskResource, {
    metadata: { namespace: NS, name: "nightly", creationTimestamp: "2030-01-01T12:00:00Z" },
    spec: {
      schedule: "0 2 * * *",
      concurrencyPolicy: "Forbid",
      successfulTasksHistoryLimit: 3,
      failedTasksHistoryLimit: 1,
      taskTemplate: { spec: { description: "report" } },
    },
  });
  return c;
}
const status = (c: FakeCluster) => c.stored<KubeObject>(CronTaskResource, NS, "nightly")!.status;

Deno.test("crontask reconcile: a due run creates one owned Task and records it", async () => {
  const c = setup();
  const result = await reconcileCronTask(req, c.context(() => NOW));
  assert.deepEqual(c.writes(), [`create tasks/${RUN}`, "updateStatus crontasks/nightly"]);
  const task = c.stored(TaskResource, NS, RUN)!;
  assert.equal(
    task.metadata?.ownerReferences?.[0].uid,
    c.stored(CronTaskResource, NS, "nightly")!.metadata?.uid,
  );
  assert.equal(status(c).lastScheduleTime, "2030-01-02T02:00:00Z");
  assert.deepEqual(status(c).active.map((r: { name: string }) => r.name), [RUN]);
  assert.deepEqual(c.events.map((e) => e.reason), ["SuccessfulCreate"]);
  assert.equal(result.requeueAfterMs, 24 * 3_600_000 - 60_000, "wakes up for the next run");
});

Deno.test("crontask reconcile: a Task elsewhere with a forged controller reference is not an active run", async () => {
  const c = setup();
  c.declareIndexes(cronTaskController);
  const cronTask = c.stored(CronTaskResource, NS, "nightly")!;
  // Someone in another namespace writes our CronTask's uid into their Task.
  c.seed(TaskResource, {
    metadata: {
      namespace: "other",
      name: "nightly-1",
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "CronTask",
        name: "nightly",
        uid: cronTask.metadata!.uid!,
        controller: true,
      }],
    },
    spec: {},
  });
  await reconcileCronTask(req, c.context(() => NOW));
  assert.deepEqual(c.writes(), [`create tasks/${RUN}`, "updateStatus crontasks/nightly"]);
  assert.deepEqual(status(c).active.map((r: { name: string }) => r.name), [RUN]);
});

Deno.test("crontask reconcile: a cache that lags behind our create reads the active Task live, no duplicate", async () => {
  const c = setup();
  await reconcileCronTask(req, c.context(() => NOW));
  // The status write landed in the cache, the Task's add event not yet.
  c.laggingCache = true;
  const task = c.stored(TaskResource, NS, RUN)!;
  await c.delete(TaskResource, NS, RUN);
  c.sync();
  c.seed(TaskResource, task);
  assert.equal(c.get(TaskResource, NS, RUN), undefined);
  assert.ok(c.get(CronTaskResource, NS, "nightly"));
  const later = new Date("2030-01-02T02:05:00Z");
  await reconcileCronTask(req, c.context(() => later));
  assert.equal(c.storedList(TaskResource).length, 1);
  assert.ok(
    c.calls.some((x) => x.verb === "get" && x.name === RUN),
    "the active Task was read live",
  );
  assert.deepEqual(status(c).active.map((r: { name: string }) => r.name), [RUN], "still active");
});

Deno.test("crontask reconcile: a run whose name is taken by a stranger is skipped and said so", async () => {
  const c = setup();
  c.seed(TaskResource, { metadata: { namespace: NS, name: RUN }, spec: {} });
  c.laggingCache = true; // not ours, not in our owner index either way
  await reconcileCronTask(req, c.context(() => NOW));
  const scheduled = status(c).conditions.find((x: { type: string }) => x.type === "Scheduled");
  assert.equal(scheduled.reason, "TaskNameConflict");
  assert.equal(status(c).active, undefined);
  assert.deepEqual(c.events.map((e) => [e.type, e.reason]), [["Warning", "TaskNameConflict"]]);
});

Deno.test("crontask reconcile: a run created before its status write met a 409 is still counted started", async () => {
  const c = setup();
  const metrics = new CronTaskMetrics();
  // Someone else writes the CronTask after we observed it: our status write gets a 409.
  c.laggingCache = true;
  await c.context().client.patch(CronTaskResource, NS, "nightly", {
    metadata: { labels: { touched: "yes" } },
  });
  await assert.rejects(
    reconcileCronTask(req, c.context(() => NOW), metrics),
    ConflictError,
  );
  assert.ok(c.stored(TaskResource, NS, RUN), "the run was created");
  assert.equal(metrics.runs.get([NS, "nightly", "started"]), 1, "and counted");
  // The retry adopts the run and writes the status; it does not count it again.
  c.laggingCache = false;
  c.sync();
  await reconcileCronTask(req, c.context(() => NOW), metrics);
  assert.deepEqual(status(c).active.map((r: { name: string }) => r.name), [RUN]);
  assert.equal(metrics.runs.get([NS, "nightly", "started"]), 1);
});

Deno.test("crontask reconcile: a spec the schema refuses is observed as such and planned: a condition, a Warning, no Task", async () => {
  const c = setup();
  c.mutate(CronTaskResource, NS, "nightly", (ct) => (ct.spec.concurrencyPolicy = "Sometimes"));
  await reconcileCronTask(req, c.context(() => NOW));
  assert.deepEqual(c.writes(), ["updateStatus crontasks/nightly"]);
  const scheduled = status(c).conditions.find((x: KubeObject) => x.type === "Scheduled");
  assert.equal(scheduled.reason, "InvalidSpec");
  assert.match(scheduled.message, /^invalid spec: .*concurrencyPolicy/);
  assert.deepEqual(c.events.map((e) => [e.type, e.reason]), [["Warning", "InvalidSpec"]]);
});
