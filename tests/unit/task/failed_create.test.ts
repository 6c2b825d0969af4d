// A Job the cluster gives no pod: its FailedCreate Events reach the Task.
import assert from "assert";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import {
  eventForCache,
  jobUidOf,
  latestFailedCreate,
  mapFailedCreateToTask,
} from "../../../controllers/task/failed_create.ts";
import { deriveStatus, transitionEvent } from "../../../controllers/task/status.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const T0 = new Date("2026-01-01T00:00:00Z");
const FORBIDDEN = 'pods "fix-bug-x" is forbidden: violates PodSecurity "restricted:latest"';

function failedCreate(job: string, uid: string, message: string, at: string) {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { namespace: "team-a", name: `${job}.${at}` },
    involvedObject: { kind: "Job", name: job, uid, apiVersion: "batch/v1", fieldPath: "" },
    reason: "FailedCreate",
    source: { component: "job-controller" },
    message,
    lastTimestamp: at,
  };
}

Deno.test("pod creation: the cache keeps whom an Event is about, who said it, its message and time", () => {
  const kept = eventForCache(failedCreate("fix-bug", "u1", FORBIDDEN, "2026-01-01T00:00:01Z"));
  assert.deepEqual(kept.involvedObject, { name: "fix-bug", uid: "u1" });
  assert.equal(kept.message, FORBIDDEN);
  assert.deepEqual(kept.source, { component: "job-controller" });
  assert.deepEqual(jobUidOf(kept), ["team-a/u1"]);
});

Deno.test("pod creation: only the Job controller's Events count, under their own namespace", () => {
  const event = failedCreate("fix-bug", "u1", FORBIDDEN, "2026-01-01T00:00:01Z");
  // The newer field alone is enough (Events written through events.k8s.io).
  const { source: _source, ...reported } = event;
  assert.deepEqual(jobUidOf({ ...reported, reportingComponent: "job-controller" }), [
    "team-a/u1",
  ]);
  // Anyone else's Event, or none named: not indexed at all.
  assert.deepEqual(jobUidOf({ ...event, source: { component: "kubectl" } }), []);
  assert.deepEqual(jobUidOf(reported), []);
  // Another namespace's Event about the same uid is indexed under that namespace.
  const elsewhere = { ...event, metadata: { ...event.metadata, namespace: "team-b" } };
  assert.deepEqual(jobUidOf(elsewhere), ["team-b/u1"]);
});

Deno.test("pod creation: an Event maps to the Task controlling that very Job (uid checked)", () => {
  const c = new FakeCluster();
  c.seed(JobResource, {
    metadata: {
      namespace: "team-a",
      name: "fix-bug",
      uid: "u1",
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        name: "fix-bug",
        uid: "t1",
        controller: true,
      }],
    },
  });
  c.seed(JobResource, { metadata: { namespace: "team-a", name: "someone-elses", uid: "u2" } });
  const at = "2026-01-01T00:00:01Z";
  assert.deepEqual(mapFailedCreateToTask(failedCreate("fix-bug", "u1", FORBIDDEN, at), c), [
    { kind: "Task", namespace: "team-a", name: "fix-bug" },
  ]);
  // Said by someone other than the Job controller: nothing.
  assert.deepEqual(
    mapFailedCreateToTask({ ...failedCreate("fix-bug", "u1", FORBIDDEN, at), source: {} }, c),
    [],
  );
  // An Event about an earlier Job of the same name, or a Job we do not control: nothing.
  assert.deepEqual(mapFailedCreateToTask(failedCreate("fix-bug", "old", FORBIDDEN, at), c), []);
  assert.deepEqual(
    mapFailedCreateToTask(failedCreate("someone-elses", "u2", FORBIDDEN, at), c),
    [],
  );
});

Deno.test("pod creation: the newest message wins", () => {
  assert.equal(latestFailedCreate([]), undefined);
  assert.equal(
    latestFailedCreate([
      failedCreate("j", "u", "exceeded quota", "2026-01-01T00:00:05Z"),
      failedCreate("j", "u", FORBIDDEN, "2026-01-01T00:00:09Z"),
      failedCreate("j", "u", "older", "2026-01-01T00:00:01Z"),
    ]),
    FORBIDDEN,
  );
});

Deno.test("pod creation: a Pending Job the cluster refuses shows on the Task, with a Warning", () => {
  const created = deriveStatus(undefined, { kind: "job", jobName: "fix-bug", job: {} }, 1, T0);
  const refused = deriveStatus(
    created,
    { kind: "job", jobName: "fix-bug", job: {}, podCreateFailure: FORBIDDEN },
    1,
    T0,
  );
  assert.equal(refused.phase, "Pending");
  const ready = refused.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "FailedCreate");
  assert.equal(ready?.message, `Job "fix-bug" cannot create its pod: ${FORBIDDEN}`);
  assert.deepEqual(transitionEvent(created, refused), {
    type: "Warning",
    reason: "FailedCreate",
    message: `Job "fix-bug" cannot create its pod: ${FORBIDDEN}`,
  });
  // Once the pod exists (quota freed, policy relaxed) the Task runs normally.
  const running = deriveStatus(
    refused,
    { kind: "job", jobName: "fix-bug", job: { status: { active: 1 } } },
    1,
    T0,
  );
  assert.equal(running.phase, "Running");
  assert.equal(running.conditions?.find((c) => c.type === "Ready")?.status, "True");
});
