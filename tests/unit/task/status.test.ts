import assert from "assert";
import { deriveStatus, transitionEvent } from "../../../controllers/task/status.ts";

const T0 = new Date("2025-01-18T10:00:00.250Z");
const T1 = new Date("2025-01-18T10:05:00Z");

function cond(type: string) {
  return (status: ReturnType<typeof deriveStatus>) =>
    status.conditions?.find((c) => c.type === type);
}
const ready = cond("Ready");
const succeeded = cond("Succeeded");

Deno.test("status: missing Agent keeps the Task Pending with AgentNotFound and a Warning", () => {
  const s = deriveStatus(
    undefined,
    { kind: "agentNotFound", agentName: "claude", namespace: "team-a" },
    1,
    T0,
  );
  assert.equal(s.phase, "Pending");
  assert.equal(s.jobName, undefined);
  assert.equal(s.completionTime, undefined);
  assert.equal(s.observedGeneration, 1);
  assert.equal(ready(s)?.reason, "AgentNotFound");
  assert.equal(ready(s)?.status, "False");
  assert.match(ready(s)?.message ?? "", /Agent "claude" not found in namespace "team-a"/);
  assert.equal(ready(s)?.lastTransitionTime, "2025-01-18T10:00:00Z");
  assert.deepEqual(transitionEvent(undefined, s)?.type, "Warning");
});

Deno.test("status: Job created → running → succeeded, with times and one event per transition", () => {
  const created = deriveStatus(undefined, { kind: "job", jobName: "j", job: {} }, 1, T0);
  assert.equal(created.phase, "Pending");
  assert.equal(created.jobName, "j");
  assert.equal(created.startTime, "2025-01-18T10:00:00Z");
  assert.equal(ready(created)?.reason, "JobCreated");
  assert.deepEqual(transitionEvent(undefined, created)?.reason, "JobCreated");

  const running = deriveStatus(
    created,
    { kind: "job", jobName: "j", job: { status: { active: 1 } } },
    1,
    T1,
  );
  assert.equal(running.phase, "Running");
  assert.equal(running.startTime, created.startTime);
  assert.equal(succeeded(running)?.reason, "JobRunning");
  // Ready did not change, so its transition time stays.
  assert.equal(ready(running)?.lastTransitionTime, ready(created)?.lastTransitionTime);
  assert.deepEqual(transitionEvent(created, running), {
    type: "Normal",
    reason: "JobRunning",
    message: 'Job "j" is running',
  });
  // Same observation again: identical status, no event (no hot loop).
  const again = deriveStatus(
    running,
    { kind: "job", jobName: "j", job: { status: { active: 1 } } },
    1,
    T1,
  );
  assert.deepEqual(again, running);
  assert.equal(transitionEvent(running, again), undefined);

  const done = deriveStatus(
    running,
    {
      kind: "job",
      jobName: "j",
      job: {
        status: {
          completionTime: "2025-01-18T10:04:00Z",
          conditions: [{ type: "Complete", status: "True" }],
        },
      },
    },
    1,
    T1,
  );
  assert.equal(done.phase, "Completed");
  assert.equal(done.completionTime, "2025-01-18T10:04:00Z");
  assert.equal(succeeded(done)?.status, "True");
  assert.equal(succeeded(done)?.reason, "JobSucceeded");
});

Deno.test("status: a failed Job fails the Task with the Job's reason", () => {
  const s = deriveStatus(
    undefined,
    {
      kind: "job",
      jobName: "j",
      job: {
        status: {
          conditions: [{
            type: "Failed",
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
            lastTransitionTime: "2025-01-18T10:03:00Z",
          }],
        },
      },
    },
    2,
    T1,
  );
  assert.equal(s.phase, "Failed");
  assert.equal(s.completionTime, "2025-01-18T10:03:00Z");
  assert.equal(succeeded(s)?.reason, "JobFailed");
  assert.match(succeeded(s)?.message ?? "", /backoff limit/);
  assert.equal(transitionEvent(undefined, s)?.type, "Warning");
});

Deno.test("status: invalid inputs fail the Task at once with their reason", () => {
  const s = deriveStatus(
    undefined,
    { kind: "invalid", reason: "ConfigMapNotFound", message: "cm gone" },
    1,
    T0,
  );
  assert.equal(s.phase, "Failed");
  assert.equal(s.completionTime, "2025-01-18T10:00:00Z");
  assert.equal(succeeded(s)?.reason, "ConfigMapNotFound");
  assert.equal(ready(s)?.message, "cm gone");
});
