// Stop and timeout decisions, and how the kubelet is asked to end a pod.
import assert from "assert";
import { parseDuration } from "../../../api/v1alpha1/index.ts";
import {
  deadlineOf,
  podStopPatch,
  stopReason,
  stopRequested,
  TIMEOUT_ANNOTATION,
  timeoutSecondsOf,
} from "../../../controllers/task/stop.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

const T = (iso: string) => new Date(iso);

Deno.test("stop: durations are hours, minutes and seconds; anything else is NaN", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  for (const bad of ["", "30", "1d", "-5m", "1.5h", "5 m", "m"]) {
    assert.ok(Number.isNaN(parseDuration(bad)), bad);
  }
});

Deno.test('stop: the annotation or its Go-operator alias, only when "true"', () => {
  const annotated = (annotations: Record<string, string>) => ({ metadata: { annotations } });
  assert.ok(stopRequested(annotated({ "kubetask.io/stop": "true" })));
  assert.ok(stopRequested(annotated({ "kubetask.io/terminate": "true" })));
  assert.ok(!stopRequested(annotated({ "kubetask.io/stop": "false" })));
  assert.ok(!stopRequested({ metadata: {} }));
});

Deno.test("stop: the Task's timeout wins over the Agent's; none means no limit", () => {
  assert.equal(timeoutSecondsOf(makeTask({ timeout: "30m" }), makeAgent({ timeout: "2h" })), 1800);
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent({ timeout: "2h" })), 7200);
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent()), undefined);
});

Deno.test("stop: the deadline counts from the Job's start; past it the reason is Timeout", () => {
  const job = {
    metadata: { annotations: { [TIMEOUT_ANNOTATION]: "60" } },
    status: { startTime: "2026-01-01T00:00:00Z" },
  };
  assert.equal(deadlineOf(job), Date.parse("2026-01-01T00:01:00Z"));
  assert.equal(deadlineOf({ metadata: job.metadata }), undefined, "not started: no clock");
  assert.equal(deadlineOf({ status: job.status }), undefined, "no timeout: no deadline");
  const task = makeTask();
  assert.equal(stopReason(task, job, T("2026-01-01T00:00:59Z")), undefined);
  assert.equal(stopReason(task, job, T("2026-01-01T00:01:00Z"))?.reason, "Timeout");
  const stopped = makeTask();
  stopped.metadata.annotations = { "kubetask.io/stop": "true" };
  assert.equal(stopReason(stopped, job, T("2026-01-01T00:00:01Z"))?.reason, "Stopped");
});

Deno.test("stop: a running pod gets a deadline already behind it; finished or lower ones are left", () => {
  const now = T("2026-01-01T00:10:00Z");
  const pod = (extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
    metadata: { name: "p" },
    spec,
    status: { phase: "Running", startTime: "2026-01-01T00:00:00Z", ...extra },
  });
  assert.deepEqual(podStopPatch(pod(), now), { spec: { activeDeadlineSeconds: 600 } });
  assert.deepEqual(podStopPatch(pod({ startTime: undefined }), now), {
    spec: { activeDeadlineSeconds: 1 },
  });
  assert.equal(podStopPatch(pod({ phase: "Succeeded" }), now), undefined);
  assert.equal(podStopPatch(pod({}, { activeDeadlineSeconds: 5 }), now), undefined);
  assert.deepEqual(podStopPatch(pod({}, { activeDeadlineSeconds: 86400 }), now), {
    spec: { activeDeadlineSeconds: 600 },
  });
});
