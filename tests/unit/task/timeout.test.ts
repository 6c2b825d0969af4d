// Which timeout is in force, and the deadline it gives a started Job.
import assert from "assert";
import { parseDuration } from "../../../api/v1alpha1/index.ts";
import {
  deadlineOf,
  TIMEOUT_ANNOTATION,
  timeoutSecondsOf,
} from "../../../controllers/task/timeout.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

Deno.test("timeout: durations are hours, minutes and seconds; anything else is NaN", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  for (const bad of ["", "30", "1d", "-5m", "1.5h", "5 m", "m"]) {
    assert.ok(Number.isNaN(parseDuration(bad)), bad);
  }
});

Deno.test("timeout: the Task's timeout wins over the Agent's; none means no limit", () => {
  assert.equal(timeoutSecondsOf(makeTask({ timeout: "30m" }), makeAgent({ timeout: "2h" })), 1800);
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent({ timeout: "2h" })), 7200);
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent()), undefined);
});

Deno.test("timeout: the deadline counts from the Job's start", () => {
  const job = {
    metadata: { annotations: { [TIMEOUT_ANNOTATION]: "60" } },
    status: { startTime: "2026-01-01T00:00:00Z" },
  };
  assert.equal(deadlineOf(job), Date.parse("2026-01-01T00:01:00Z"));
  assert.equal(deadlineOf({ metadata: job.metadata }), undefined, "not started: no clock");
  assert.equal(deadlineOf({ status: job.status }), undefined, "no timeout: no deadline");
});
