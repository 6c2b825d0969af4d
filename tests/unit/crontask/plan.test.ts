// What the CronTask controller decides to do, without a cluster.
import assert from "assert";
import { cronTaskSpec } from "../../../api/v1alpha1/index.ts";
import { planCronTask as plan } from "../../../controllers/crontask/plan.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import {
  CRONTASK_LABEL,
  type CronTaskObject,
  type TaskObject,
} from "../../../controllers/crontask/tasks.ts";

const UID = "uid-nightly";
const CREATED = "2024-05-01T00:00:00Z";

function cronTask(
  spec: Record<string, unknown> = {},
  status?: CronTaskObject["status"],
): CronTaskObject {
  return {
    apiVersion: "kubetask.io/v1alpha1",
    kind: "CronTask",
    metadata: {
      name: "nightly",
      namespace: "team",
      uid: UID,
      generation: 2,
      creationTimestamp: CREATED,
    },
    spec: cronTaskSpec.parse({
      schedule: "0 2 * * *",
      taskTemplate: {
        metadata: { labels: { app: "report" } },
        spec: { description: "hi", agentRef: "claude" },
      },
      ...spec,
    }),
    status,
  };
}

function task(
  name: string,
  phase?: string,
  extra: { completionTime?: string; scheduledAt?: string } = {},
): TaskObject {
  return {
    metadata: {
      name,
      namespace: "team",
      uid: `uid-${name}`,
      annotations: extra.scheduledAt
        ? { "kubetask.io/scheduled-at": extra.scheduledAt }
        : undefined,
      ownerReferences: [{
        apiVersion: "kubetask.io/v1alpha1",
        kind: "CronTask",
        name: "nightly",
        uid: UID,
        controller: true,
      }],
    },
    spec: { agentRef: "claude" },
    status: phase
      ? { phase: phase as "Running" | "Queued", completionTime: extra.completionTime }
      : undefined,
  };
}

const at = (iso: string) => new Date(iso);

/** The plan for `ct` owning `owned` at `now`, as the reconciler asks for it. */
function planCronTask(ct: CronTaskObject, owned: TaskObject[], now: Date) {
  const p = plan({ raw: ct, cronTask: ct, owned }, now);
  const deleted = (why: RegExp) =>
    p.delete.filter((d) => why.test(d.event?.message ?? "")).map((d) => d.name);
  return {
    ...p,
    status: p.status!,
    /** The run's Task, if one is created. */
    create: p.ensure[0]?.object as TaskObject | undefined,
    /** Active Tasks deleted for concurrencyPolicy Replace. */
    replace: deleted(/Replace/),
    /** Finished Tasks deleted beyond the history limits. */
    prune: deleted(/finished Task/),
  };
}
const condition = (status?: CronTaskObject["status"]) =>
  status?.conditions?.find((c) => c.type === "Scheduled");

Deno.test("plan: a due run creates a named, labelled, owned Task from the template", () => {
  const plan = planCronTask(cronTask(), [], at("2024-05-01T02:00:10Z"));
  const t = plan.create!;
  assert.equal(t.metadata.name, "nightly-1714528800");
  assert.deepEqual(t.metadata.labels, { app: "report", [CRONTASK_LABEL]: "nightly" });
  assert.equal(t.metadata.ownerReferences?.[0].uid, UID);
  assert.equal(t.metadata.ownerReferences?.[0].controller, true);
  assert.deepEqual(t.spec, { description: "hi", agentRef: "claude" });
  assert.equal(plan.status.lastScheduleTime, "2024-05-01T02:00:00Z");
  assert.deepEqual(plan.status.active?.map((r) => r.name), ["nightly-1714528800"]);
  assert.equal(plan.status.observedGeneration, 2);
  const c = condition(plan.status)!;
  assert.deepEqual([c.status, c.reason, c.message], [
    "True",
    "TaskCreated",
    "Created Task nightly-1714528800",
  ]);
  assert.equal(
    plan.requeueAfterMs,
    at("2024-05-02T02:00:00Z").getTime() - at("2024-05-01T02:00:10Z").getTime(),
  );
});

Deno.test("plan: nothing due → no Task, requeue at the next schedule time", () => {
  const plan = planCronTask(cronTask(), [], at("2024-05-01T01:00:00Z"));
  assert.equal(plan.create, undefined);
  assert.equal(plan.requeueAfterMs, 3_600_000);
  assert.equal(condition(plan.status)?.reason, "Waiting");
});

Deno.test("plan: Forbid skips while a Task is active and says why", () => {
  const running = task("nightly-1714442400", "Running");
  const plan = planCronTask(cronTask(), [running], at("2024-05-01T02:00:10Z"));
  assert.equal(plan.create, undefined);
  assert.equal(plan.status.lastScheduleTime, undefined); // the run happens once the active one ends
  const c = condition(plan.status)!;
  assert.deepEqual([c.status, c.reason], ["False", "TaskAlreadyActive"]);
  assert.ok(c.message?.includes("nightly-1714442400"));
  assert.ok(plan.events.some((e) => e.reason === "TaskAlreadyActive"));
});

Deno.test("plan: Forbid counts a Task waiting in Queued (Agent capacity) as active", () => {
  const queued = task("nightly-1714442400", "Queued");
  const plan = planCronTask(cronTask(), [queued], at("2024-05-01T02:00:10Z"));
  assert.equal(plan.create, undefined);
  assert.equal(condition(plan.status)?.reason, "TaskAlreadyActive");
  assert.deepEqual(plan.status.active?.map((r) => r.name), ["nightly-1714442400"]);
});

Deno.test("plan: Replace deletes the active Task and creates the new one", () => {
  const running = task("nightly-1714442400", "Running");
  const plan = planCronTask(
    cronTask({ concurrencyPolicy: "Replace" }),
    [running],
    at("2024-05-01T02:00:10Z"),
  );
  assert.deepEqual(plan.replace, ["nightly-1714442400"]);
  assert.equal(plan.create?.metadata.name, "nightly-1714528800");
  assert.deepEqual(plan.status.active?.map((r) => r.name), ["nightly-1714528800"]);
});

Deno.test("plan: Allow runs alongside the active Task", () => {
  const running = task("nightly-1714442400", "Running");
  const plan = planCronTask(
    cronTask({ concurrencyPolicy: "Allow" }),
    [running],
    at("2024-05-01T02:00:10Z"),
  );
  assert.deepEqual(plan.replace, []);
  assert.deepEqual(plan.status.active?.map((r) => r.name), [
    "nightly-1714442400",
    "nightly-1714528800",
  ]);
});

Deno.test("plan: suspend creates nothing and leaves running Tasks alone", () => {
  const running = task("nightly-1714442400", "Running");
  const plan = planCronTask(cronTask({ suspend: true }), [running], at("2024-05-03T02:00:10Z"));
  assert.equal(plan.create, undefined);
  assert.deepEqual(plan.replace, []);
  assert.equal(plan.requeueAfterMs, undefined);
  assert.equal(condition(plan.status)?.reason, "Suspended");
});

Deno.test("plan: on resume after days suspended, only the most recent missed run starts", () => {
  const ct = cronTask({}, { lastScheduleTime: "2024-05-01T02:00:00Z" });
  const plan = planCronTask(ct, [], at("2024-05-05T03:00:00Z"));
  assert.equal(
    plan.create?.metadata.name,
    `nightly-${at("2024-05-05T02:00:00Z").getTime() / 1000}`,
  );
});

Deno.test("plan: a Task that already exists for the due time is recorded, not duplicated", () => {
  const existing = task("nightly-1714528800", "Running");
  const plan = planCronTask(cronTask(), [existing], at("2024-05-01T02:00:10Z"));
  assert.equal(plan.create, undefined);
  assert.equal(plan.status.lastScheduleTime, "2024-05-01T02:00:00Z");
  assert.equal(condition(plan.status)?.reason, "TaskCreated");
});

Deno.test("plan: invalid schedule → condition and Warning, no requeue", () => {
  const plan = planCronTask(cronTask({ schedule: "0 2 * *" }), [], at("2024-05-01T02:00:10Z"));
  const c = condition(plan.status)!;
  assert.deepEqual([c.status, c.reason], ["False", "InvalidSchedule"]);
  assert.ok(plan.events.some((e) => e.type === "Warning" && e.reason === "InvalidSchedule"));
  assert.equal(plan.requeueAfterMs, undefined);
  assert.equal(plan.create, undefined);
});

Deno.test("plan: history keeps the newest 3 Completed and 1 Failed Tasks", () => {
  const day = (d: number) => `2024-04-${String(d).padStart(2, "0")}T02:00:00Z`;
  const tasks = [1, 2, 3, 4, 5].map((d) =>
    task(`done-${d}`, "Completed", {
      scheduledAt: day(d),
      completionTime: day(d).replace("02:00", "02:05"),
    })
  );
  tasks.push(
    task("failed-6", "Failed", { scheduledAt: day(6) }),
    task("failed-7", "Failed", { scheduledAt: day(7) }),
  );
  const plan = planCronTask(cronTask({}, { lastScheduleTime: day(7) }), tasks, at(day(7)));
  assert.deepEqual([...plan.prune].sort(), ["done-1", "done-2", "failed-6"]);
  assert.equal(plan.status.lastSuccessfulTime, "2024-04-05T02:05:00Z");
});

Deno.test("plan: a far-away next run requeues within a day, not beyond timer range", () => {
  const plan = planCronTask(cronTask({ schedule: "@yearly" }), [], at("2024-05-01T02:00:10Z"));
  assert.equal(plan.create, undefined);
  assert.equal(plan.requeueAfterMs, 24 * 3_600_000);
});

Deno.test("plan: a refused run is skipped and said so; Replace's deletions stand", () => {
  const running = task("nightly-1714442400", "Running");
  const ct = cronTask({ concurrencyPolicy: "Replace" });
  const obs = { raw: ct, cronTask: ct, owned: [running] };
  const now = at("2024-05-01T02:00:10Z");
  const p = plan(obs, now, { reason: "NameTaken", type: TaskResource, name: "nightly-1714528800" });
  const c = condition(p.status)!;
  assert.deepEqual([c.status, c.reason], ["False", "TaskNameConflict"]);
  assert.equal(p.status?.active, undefined, "neither the replaced nor the refused Task is active");
  assert.equal(p.status?.lastScheduleTime, "2024-05-01T02:00:00Z", "the run is not retried");
  assert.deepEqual(p.events.map((e) => [e.type, e.reason]), [["Warning", "TaskNameConflict"]]);
  assert.deepEqual(p.ensure, []);

  const rejected = plan(obs, now, {
    reason: "Rejected",
    type: TaskResource,
    name: "nightly-1714528800",
    code: 403,
    message: "exceeded quota",
  });
  assert.match(
    condition(rejected.status)!.message ?? "",
    /refused Task nightly-1714528800: exceeded quota/,
  );
});

Deno.test("plan: a Scheduled condition already False keeps its transition time when a run is refused", () => {
  const since = "2024-04-30T02:00:00Z";
  const ct = cronTask({}, {
    conditions: [{
      type: "Scheduled",
      status: "False",
      reason: "TaskNameConflict",
      message: "earlier",
      lastTransitionTime: since,
    }],
  });
  const p = plan({ raw: ct, cronTask: ct, owned: [] }, at("2024-05-01T02:00:10Z"), {
    reason: "NameTaken",
    type: TaskResource,
    name: "nightly-1714528800",
  });
  assert.equal(condition(p.status)!.lastTransitionTime, since);
});

Deno.test("plan: a spec the schema refuses is planned like any other: a condition and a Warning", () => {
  const ct = { ...cronTask(), spec: { schedule: 5 } } as unknown as CronTaskObject;
  const p = plan(
    { raw: ct, cronTask: ct, invalidSpec: "schedule: expected string", owned: [] },
    at(CREATED),
  );
  const c = condition(p.status)!;
  assert.deepEqual([c.status, c.reason], ["False", "InvalidSpec"]);
  assert.match(c.message ?? "", /^invalid spec: schedule: expected string/);
  assert.deepEqual(p.ensure, []);
  assert.deepEqual(p.delete, []);
  assert.deepEqual(p.events.map((e) => e.reason), ["InvalidSpec"]);
});
