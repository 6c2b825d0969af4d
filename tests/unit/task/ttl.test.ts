import assert from "assert";
import { ttlDecision, ttlSecondsFrom } from "../../../controllers/task/ttl.ts";

const config = (taskLifecycle?: unknown) => ({
  metadata: { name: "default" },
  spec: { taskLifecycle },
});

Deno.test("ttl: from KubeTaskConfig, else 7 days", () => {
  assert.equal(ttlSecondsFrom(undefined), 604800);
  assert.equal(ttlSecondsFrom(config()), 604800);
  assert.equal(ttlSecondsFrom(config({})), 604800);
  assert.equal(ttlSecondsFrom(config({ ttlSecondsAfterFinished: 2 })), 2);
  assert.equal(ttlSecondsFrom(config({ ttlSecondsAfterFinished: 0 })), 0);
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
