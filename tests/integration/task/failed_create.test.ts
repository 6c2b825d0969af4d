// Why a Job has no pod is shown from the Job controller's FailedCreate Events,
// and only from those: an Event written by anyone else, or in another
// namespace with the victim Job's uid, says nothing on the Task.
import assert from "assert";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { condition, type Json, TaskHarness } from "./harness.ts";

/** A FailedCreate Event about `job` (by uid) as someone other than the Job controller writes it. */
function forgedEvent(namespace: string, job: Json, component: string, message: string): Json {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `forged-${component}-${crypto.randomUUID().slice(0, 8)}`, namespace },
    // The apiserver insists on the Event's own namespace here; the uid is the victim's.
    involvedObject: {
      apiVersion: "batch/v1",
      kind: "Job",
      namespace,
      name: job.metadata.name,
      uid: job.metadata.uid,
    },
    reason: "FailedCreate",
    type: "Warning",
    source: { component },
    message,
    // Newer than the Job controller's own: it would win if it counted at all.
    firstTimestamp: "2099-01-01T00:00:00Z",
    lastTimestamp: "2099-01-01T00:00:00Z",
    count: 1,
  };
}

Deno.test("failed create: Events forged with a Job's uid, elsewhere or by another reporter, are not shown", async () => {
  const other = await testNamespace("task-other");
  const h = await TaskHarness.start({ alsoWatch: [other.name] });
  try {
    // No pod may be created here: the Job controller reports FailedCreate.
    await h.apply({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "no-pods" },
      spec: { hard: { pods: "0" } },
    });
    await h.agent("default");
    await h.task("victim");
    const job = await eventually("Job", () => h.get("job", "victim"));
    await kubectl(
      ["create", "-f", "-"],
      JSON.stringify(forgedEvent(other.name, job, "job-controller", "FORGED in another namespace")),
    );
    await kubectl(
      ["create", "-f", "-"],
      JSON.stringify(forgedEvent(h.ns, job, "someone", "FORGED by another reporter")),
    );
    const task = await eventually("the Job controller's message on the Task", async () => {
      const t = await h.get("task", "victim");
      return condition(t, "Ready")?.reason === "FailedCreate" ? t : undefined;
    }, 90_000);
    // Wait for both forged Events to have reached the operator, then look again.
    await new Promise((r) => setTimeout(r, 2000));
    const message: string = condition(await h.get("task", "victim"), "Ready").message;
    console.log(`Ready: FailedCreate: ${message}`);
    assert.match(message, /^Job "victim" cannot create its pod: .*quota/);
    assert.doesNotMatch(message, /FORGED/);
    assert.ok(task);
  } finally {
    await h.cleanup();
    await other.cleanup();
  }
});
