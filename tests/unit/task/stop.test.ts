// Stop decisions (on request, past the timeout), and how the kubelet is asked to end a pod.
import assert from "assert";
import { podStopPatch, stopReason, stopRequested } from "../../../controllers/task/stop.ts";
import { TIMEOUT_ANNOTATION } from "../../../controllers/task/timeout.ts";
import { makeTask } from "./fixtures.ts";

const T = (iso: string) => new Date(iso);

Deno.test('stop: the annotation or its Go-operator alias, only when "true"', () => {
  const annotated = (annotations: Record<string, string>) => ({ metadata: { annotations } });
  assert.ok(stopRequested(annotated({ "kubetask.io/stop": "true" })));
  assert.ok(stopRequested(annotated({ "kubetask.io/terminate": "true" })));
  assert.ok(!stopRequested(annotated({ "kubetask.io/stop": "false" })));
  assert.ok(!stopRequested({ metadata: {} }));
});

Deno.test("stop: past the Job's deadline the reason is Timeout; a request is Stopped", () => {
  const job = {
    metadata: { annotations: { [TIMEOUT_ANNOTATION]: "60" } },
    status: { startTime: "2026-01-01T00:00:00Z" },
  };
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
