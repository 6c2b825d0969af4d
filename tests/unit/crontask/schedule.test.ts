// Schedule maths: when a CronTask's next run is due, and what happens to
// runs it missed.
import assert from "assert";
import {
  dueRuns,
  MISSED_COUNT_CAP,
  parseSchedule,
} from "../../../controllers/crontask/schedule.ts";

const at = (iso: string) => new Date(iso);

function due(
  schedule: string,
  earliest: string,
  now: string,
  opts: { tz?: string; deadline?: number } = {},
) {
  const result = dueRuns(schedule, opts.tz, at(earliest), at(now), opts.deadline);
  if (!result.ok) throw new Error(result.error);
  return result;
}

Deno.test("schedule: nothing is due before the first schedule time", () => {
  const r = due("0 9 * * *", "2024-05-01T10:00:00Z", "2024-05-02T08:59:59Z");
  assert.equal(r.mostRecentDue, undefined);
  assert.equal(r.missedCount, 0);
  assert.deepEqual(r.next, at("2024-05-02T09:00:00Z"));
});

Deno.test("schedule: a run exactly at now is due, and next is strictly after now", () => {
  const r = due("0 9 * * *", "2024-05-01T10:00:00Z", "2024-05-02T09:00:00Z");
  assert.deepEqual(r.mostRecentDue, at("2024-05-02T09:00:00Z"));
  assert.equal(r.missedCount, 1);
  assert.deepEqual(r.next, at("2024-05-03T09:00:00Z"));
});

Deno.test("schedule: a run at or before earliest (lastScheduleTime) is not due again", () => {
  const r = due("0 9 * * *", "2024-05-02T09:00:00Z", "2024-05-02T09:00:30Z");
  assert.equal(r.mostRecentDue, undefined);
  assert.deepEqual(r.next, at("2024-05-03T09:00:00Z"));
});

Deno.test("schedule: default time zone is UTC; an explicit zone shifts the wall clock", () => {
  assert.deepEqual(
    due("0 9 * * *", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z").next,
    at("2024-07-01T09:00:00Z"),
  );
  const berlin = due("0 9 * * *", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z", {
    tz: "Europe/Berlin",
  });
  assert.deepEqual(berlin.next, at("2024-07-01T07:00:00Z")); // CEST = UTC+2
  const winter = due("0 9 * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", {
    tz: "Europe/Berlin",
  });
  assert.deepEqual(winter.next, at("2024-01-01T08:00:00Z")); // CET = UTC+1
});

Deno.test("schedule: day 31 skips months without one", () => {
  const r = due("0 0 31 * *", "2024-01-31T00:00:00Z", "2024-02-15T00:00:00Z");
  assert.deepEqual(r.next, at("2024-03-31T00:00:00Z"));
  const april = due("0 0 31 * *", "2024-03-31T00:00:00Z", "2024-04-30T23:59:00Z");
  assert.deepEqual(april.next, at("2024-05-31T00:00:00Z"));
});

Deno.test("schedule: Feb 29 runs only in leap years (2100 is not one)", () => {
  const r = due("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-03-01T00:00:00Z");
  assert.deepEqual(r.mostRecentDue, at("2028-02-29T00:00:00Z"));
  assert.equal(r.missedCount, 1);
  assert.deepEqual(r.next, at("2032-02-29T00:00:00Z"));
  assert.deepEqual(
    due("0 0 29 2 *", "2096-03-01T00:00:00Z", "2096-03-01T00:00:00Z").next,
    at("2104-02-29T00:00:00Z"),
  );
});

Deno.test("schedule: macros", () => {
  const from = "2024-01-10T10:30:00Z";
  const cases: Record<string, string> = {
    "@hourly": "2024-01-10T11:00:00Z",
    "@daily": "2024-01-11T00:00:00Z",
    "@midnight": "2024-01-11T00:00:00Z",
    "@weekly": "2024-01-14T00:00:00Z", // Sunday
    "@monthly": "2024-02-01T00:00:00Z",
    "@yearly": "2025-01-01T00:00:00Z",
    "@annually": "2025-01-01T00:00:00Z",
  };
  for (const [macro, next] of Object.entries(cases)) {
    assert.deepEqual(due(macro, from, from).next, at(next), macro);
  }
});

Deno.test("schedule: invalid input is an error value, never a throw", () => {
  for (
    const bad of [
      "bogus",
      "61 * * * *",
      "* * * * * *",
      "0 0 * * * 2024",
      "@every 5m",
      "",
      "0 25 * * *",
    ]
  ) {
    const r = dueRuns(bad, undefined, at("2024-01-01T00:00:00Z"), at("2024-01-02T00:00:00Z"));
    assert.equal(r.ok, false, bad);
    assert.ok(!r.ok && r.error.length > 0);
  }
  const zone = parseSchedule("0 * * * *", "Mars/Olympus_Mons");
  assert.ok(!zone.ok && zone.error.includes("Mars/Olympus_Mons"));
  const never = dueRuns(
    "0 0 30 2 *",
    undefined,
    at("2024-01-01T00:00:00Z"),
    at("2024-01-02T00:00:00Z"),
  );
  assert.ok(!never.ok && never.error.includes("never fires"));
});

Deno.test("schedule: after a long outage only the most recent missed run is due", () => {
  const r = due("*/5 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T01:02:00Z");
  assert.deepEqual(r.mostRecentDue, at("2024-01-01T01:00:00Z"));
  assert.equal(r.missedCount, 12);
  assert.deepEqual(r.next, at("2024-01-01T01:05:00Z"));
});

Deno.test("schedule: years of per-minute misses cost bounded work and cap the count", () => {
  // Ten years of minutes: walking them all would hang the test; the count stops at the cap.
  const r = due("* * * * *", "2014-01-01T00:00:00Z", "2024-06-01T12:34:56Z");
  assert.deepEqual(r.mostRecentDue, at("2024-06-01T12:34:00Z"));
  assert.equal(r.missedCount, MISSED_COUNT_CAP);
  assert.deepEqual(r.next, at("2024-06-01T12:35:00Z"));
});

Deno.test("schedule: startingDeadlineSeconds skips a run that is too late", () => {
  const late = due("0 9 * * *", "2024-05-01T09:00:00Z", "2024-05-02T09:10:00Z", { deadline: 300 });
  assert.equal(late.mostRecentDue, undefined);
  assert.deepEqual(late.tooLate, at("2024-05-02T09:00:00Z"));
  assert.deepEqual(late.next, at("2024-05-03T09:00:00Z"));

  const inTime = due("0 9 * * *", "2024-05-01T09:00:00Z", "2024-05-02T09:04:00Z", {
    deadline: 300,
  });
  assert.deepEqual(inTime.mostRecentDue, at("2024-05-02T09:00:00Z"));
  assert.equal(inTime.tooLate, undefined);
});
