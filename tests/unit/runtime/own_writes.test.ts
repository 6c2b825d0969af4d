// The manager's memory of its own status writes: recorded by the client it
// hands reconcilers, checked once before a reconcile observes anything.
import assert from "assert";
import { OwnWrites, recordingStatusWrites } from "../../../controllers/runtime/own_writes.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

Deno.test("own writes: a status write through the recording client supersedes the version it replaced", async () => {
  const c = new FakeCluster();
  c.laggingCache = true;
  const seeded = c.seed(TaskResource, { metadata: { namespace: "ns", name: "t" }, spec: {} });
  const ownWrites = new OwnWrites();
  const client = recordingStatusWrites(c, ownWrites);
  assert.equal(ownWrites.isSuperseded(seeded), false);

  await client.updateStatus(TaskResource, { ...seeded, status: { phase: "Pending" } });
  assert.equal(ownWrites.isSuperseded(seeded), true, "the cache still shows the old version");
  c.sync();
  const fresh = c.get<KubeObject>(TaskResource, "ns", "t")!;
  assert.equal(ownWrites.isSuperseded(fresh), false, "the cache caught up");
  assert.equal(ownWrites.isSuperseded(seeded), false, "forgotten once the cache moved on");
});

Deno.test("own writes: a refused status write is not recorded", async () => {
  const c = new FakeCluster();
  const seeded = c.seed(TaskResource, { metadata: { namespace: "ns", name: "t" }, spec: {} });
  const ownWrites = new OwnWrites();
  const client = recordingStatusWrites(c, ownWrites);
  const stale = { ...seeded, metadata: { ...seeded.metadata, resourceVersion: "0" } };
  await assert.rejects(client.updateStatus(TaskResource, { ...stale, status: {} }));
  assert.equal(ownWrites.isSuperseded(stale), false);
  assert.equal(ownWrites.isSuperseded(seeded), false);
});
