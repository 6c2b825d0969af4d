// The chaos invariants must catch what they exist for: each test builds the
// broken state by hand and expects it named.
import assert from "assert";
import {
  concurrentRuns,
  cronDuplicates,
  judge,
  mostEventsPerTask,
  settled,
  unfinishedJobsPerAgent,
} from "../../chaos/invariants.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";

const task = (name: string, extra: KubeObject = {}): KubeObject => ({
  ...extra,
  metadata: { name, namespace: "a", uid: `u-${name}`, ...extra.metadata },
  spec: { ...extra.spec },
  status: { ...extra.status },
});
const owned = (name: string, owner: string, status: KubeObject = {}): KubeObject => ({
  metadata: {
    name,
    namespace: "a",
    ownerReferences: [{
      apiVersion: "kubetask.io/v1alpha1",
      kind: "Task",
      name: owner,
      uid: `u-${owner}`,
      controller: true,
    }],
  },
  status,
});
const complete = { conditions: [{ type: "Complete", status: "True" }] };

Deno.test("unfinishedJobsPerAgent: finished Jobs and Tasks being deleted free their slot", () => {
  const tasks = [
    task("t1", { spec: { agentRef: "limited" } }),
    task("t2", { spec: { agentRef: "limited" } }),
    task("t3", { spec: { agentRef: "limited" } }),
    task("t4", { spec: { agentRef: "limited" }, metadata: { deletionTimestamp: "now" } }),
    task("t5"),
  ];
  const jobs = [owned("t1", "t1"), owned("t2", "t2"), owned("t3", "t3", complete)];
  jobs.push(owned("t4", "t4"), owned("t5", "t5"));
  assert.deepEqual(
    unfinishedJobsPerAgent(tasks, jobs),
    new Map([["a/limited", 2], ["a/default", 1]]),
  );
});

Deno.test("concurrentRuns and cronDuplicates: two runs at once, two Tasks for one time", () => {
  const run = (name: string, at: string) =>
    task(name, {
      metadata: {
        labels: { "kubetask.io/crontask": "every-minute-forbid" },
        annotations: { "kubetask.io/scheduled-at": at },
      },
      status: { phase: "Running" },
    });
  const tasks = [run("r1", "T1"), run("r2", "T2"), run("r3", "T2")];
  const jobs = [owned("r1", "r1"), owned("r2", "r2")];
  assert.deepEqual(concurrentRuns(tasks, jobs), new Map([["a/every-minute-forbid", 2]]));
  assert.deepEqual(cronDuplicates(tasks), ["a/every-minute-forbid@T2"]);
});

Deno.test("settled: a Task without a Job is settled only while Queued", () => {
  const queued = task("q", { status: { phase: "Queued" } });
  const pending = task("p", { status: { phase: "Pending" } });
  assert.equal(settled([queued], []), true);
  assert.equal(settled([queued, pending], []), false);
  assert.equal(settled([queued, pending], [owned("p", "p")]), true);
});

Deno.test("mostEventsPerTask: aggregated Events count as often as they happened", () => {
  const event = (uid: string, count?: number): KubeObject => ({
    involvedObject: { kind: "Task", uid },
    count,
  });
  assert.equal(mostEventsPerTask([event("a"), event("a"), event("b", 7)]), 7);
  assert.equal(mostEventsPerTask([]), 0);
});

Deno.test("judge: duplicates, lost, orphans and unexplained Tasks are all named", () => {
  const done = { status: { phase: "Completed" } };
  const v = judge({
    tasks: [
      task("one", done),
      task("two", done),
      task("three", { status: { phase: "Pending" } }),
      task("four", { status: { phase: "Running" } }),
    ],
    jobs: [
      owned("one", "one", complete),
      owned("two", "two", complete),
      owned("two-again", "two"),
      owned("four", "four", complete),
      owned("stray", "gone"),
    ],
    configMaps: [owned("one", "one"), owned("two", "two"), owned("four", "four")],
    events: [],
  });
  assert.deepEqual(v.duplicates, ["a/two"]);
  assert.deepEqual(v.lost, ["a/three"]);
  assert.deepEqual(v.orphans, ["a/stray"]);
  // three: Pending without a reason; four: Running although its Job is complete.
  assert.deepEqual(v.unexplained, ["a/three (Pending)", "a/four (Running)"]);
});
