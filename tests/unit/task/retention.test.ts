// Retention of finished Tasks: by age (the TTL) and by count (the oldest beyond the limit go).
import assert from "assert";
import {
  beyondLimit,
  maxFinishedFrom,
  ttlDecision,
  ttlSecondsFrom,
} from "../../../controllers/task/retention.ts";
import { KubeTaskConfigResource, TaskResource } from "../../../controllers/kinds.ts";
import { reconcileTask } from "../../../controllers/task/reconciler.ts";
import { mapTaskToExcessFinished } from "../../../controllers/task/controller.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const finished = (name: string, at: string, phase = "Completed") => ({
  metadata: { namespace: "ns", name, uid: `uid-${name}` },
  spec: {},
  status: { phase, completionTime: at },
});

Deno.test("retention: oldest finished first; running Tasks never count", () => {
  const tasks = [
    finished("c", "2030-01-01T00:00:03Z"),
    finished("a", "2030-01-01T00:00:01Z", "Failed"),
    { metadata: { namespace: "ns", name: "running" }, spec: {}, status: { phase: "Running" } },
    finished("b", "2030-01-01T00:00:02Z"),
  ];
  assert.deepEqual(beyondLimit(() => tasks, 1).map((t) => t.metadata?.name), ["a", "b"]);
  assert.deepEqual(beyondLimit(() => tasks, 3), []);
  assert.deepEqual(beyondLimit(() => tasks, 0).length, 3);
  // No limit: the namespace's Tasks are not even listed.
  assert.deepEqual(beyondLimit(() => assert.fail("listed"), undefined), []);
  assert.equal(maxFinishedFrom(undefined), undefined);
  assert.equal(
    maxFinishedFrom({ metadata: {}, spec: { taskLifecycle: { maxFinishedTasks: 5 } } }),
    5,
  );
});

Deno.test("retention: a finished Task beyond the limit deletes itself; a newer one wakes it", async () => {
  const c = new FakeCluster();
  c.seed(KubeTaskConfigResource, {
    metadata: { namespace: "ns", name: "default" },
    spec: { taskLifecycle: { maxFinishedTasks: 1 } },
  });
  c.seed(TaskResource, finished("old", "2030-01-01T00:00:01Z"));
  c.seed(TaskResource, finished("new", "2030-01-01T00:00:02Z"));
  const newest = c.stored(TaskResource, "ns", "new")!;
  assert.deepEqual(mapTaskToExcessFinished(newest, c).map((r) => r.name), ["old"]);
  await reconcileTask({ kind: "Task", namespace: "ns", name: "new" }, c.context());
  assert.ok(c.stored(TaskResource, "ns", "new"), "the newest stays");
  await reconcileTask({ kind: "Task", namespace: "ns", name: "old" }, c.context());
  assert.equal(c.stored(TaskResource, "ns", "old"), undefined);
  assert.deepEqual(c.writes(), ["delete tasks/old"]);
});

const ttlConfig = (taskLifecycle?: unknown) => ({
  metadata: { name: "default" },
  spec: { taskLifecycle },
});

Deno.test("ttl: from KubeTaskConfig, else 7 days", () => {
  assert.equal(ttlSecondsFrom(undefined), 604800);
  assert.equal(ttlSecondsFrom(ttlConfig()), 604800);
  assert.equal(ttlSecondsFrom(ttlConfig({})), 604800);
  assert.equal(ttlSecondsFrom(ttlConfig({ ttlSecondsAfterFinished: 2 })), 2);
  assert.equal(ttlSecondsFrom(ttlConfig({ ttlSecondsAfterFinished: 0 })), 0);
});

Deno.test("ttl: delete when completionTime + ttl <= now, else wake up for the rest", () => {
  const done = "2025-01-18T10:00:00Z";
  assert.deepEqual(ttlDecision(done, 60, new Date("2025-01-18T10:00:45Z")), {
    action: "requeue",
    afterMs: 15_000,
  });
  assert.deepEqual(ttlDecision(done, 60, new Date("2025-01-18T10:01:00Z")), { action: "delete" });
  assert.deepEqual(ttlDecision(done, 60, new Date("2025-01-19T00:00:00Z")), { action: "delete" });
});

Deno.test("ttl: 0 disables cleanup; no completionTime keeps the Task", () => {
  assert.deepEqual(ttlDecision("2020-01-01T00:00:00Z", 0, new Date()), { action: "keep" });
  assert.deepEqual(ttlDecision(undefined, 60, new Date()), { action: "keep" });
});
