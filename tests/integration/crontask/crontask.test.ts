// The CronTask controller against the real control plane, with a hand-moved
// clock: runs are created on schedule, concurrency policies, suspend, history
// limits and restarts behave as a CronJob user would expect.
import assert from "assert";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { withCronTask } from "./harness.ts";

// The manager keeps long-lived watches and timers between awaits.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "crontask: a due run creates one Task, named by schedule time, labelled and owned",
  ...opts,
  fn: () =>
    withCronTask({}, async (h) => {
      assert.deepEqual(await h.taskNames(), []);
      // Two hours late: only the most recent missed run starts, no burst.
      await h.advanceTo(2);
      await h.waitForTasks([h.taskName(2)]);
      const [task] = await h.tasks();
      assert.equal(task.metadata.labels["kubetask.io/crontask"], "report");
      assert.equal(task.metadata.labels.team, "qa");
      assert.equal(task.spec.description, "write the report");
      const owner = task.metadata.ownerReferences[0];
      assert.deepEqual([owner.kind, owner.name, owner.controller], ["CronTask", "report", true]);

      const ct = await eventually("status records the run", async () => {
        const ct = await h.cronTask();
        return ct.status?.active?.length === 1 ? ct : undefined;
      });
      assert.equal(ct.status.active[0].name, h.taskName(2));
      assert.equal(
        ct.status.lastScheduleTime,
        new Date(h.runSeconds(2) * 1000).toISOString().replace(".000", ""),
      );
      const cond = await h.scheduledCondition();
      assert.deepEqual([cond.status, cond.reason, cond.message], [
        "True",
        "TaskCreated",
        `Created Task ${h.taskName(2)}`,
      ]);
    }),
});

Deno.test({
  name: "crontask: Forbid skips while the previous Task is active, then runs the missed time",
  ...opts,
  fn: () =>
    withCronTask({ concurrencyPolicy: "Forbid" }, async (h) => {
      await h.advanceTo(0);
      await h.waitForTasks([h.taskName(0)]);
      await h.setTaskPhase(h.taskName(0), "Running");

      await h.advanceTo(1);
      assert.deepEqual(await h.taskNames(), [h.taskName(0)]);
      const cond = await h.scheduledCondition();
      assert.deepEqual([cond.status, cond.reason], ["False", "TaskAlreadyActive"]);

      // Once it finishes, the skipped run (no startingDeadlineSeconds) starts.
      await h.setTaskPhase(h.taskName(0), "Completed");
      await h.waitForTasks([h.taskName(0), h.taskName(1)]);
    }),
});

Deno.test({
  name: "crontask: Replace deletes the active Task and starts the new one",
  ...opts,
  fn: () =>
    withCronTask({ concurrencyPolicy: "Replace" }, async (h) => {
      await h.advanceTo(0);
      await h.waitForTasks([h.taskName(0)]);
      await h.setTaskPhase(h.taskName(0), "Running");

      await h.advanceTo(1);
      await h.waitForTasks([h.taskName(1)]);
      const ct = await eventually("active lists only the new Task", async () => {
        const ct = await h.cronTask();
        return ct.status?.active?.length === 1 && ct.status.active[0].name === h.taskName(1)
          ? ct
          : undefined;
      });
      assert.ok(ct);
    }),
});

Deno.test({
  name: "crontask: suspend stops new runs; resume starts only the most recent missed one",
  ...opts,
  fn: () =>
    withCronTask({}, async (h) => {
      await h.patch({ spec: { suspend: true } });
      await h.reconciled();
      await h.advanceTo(3);
      assert.deepEqual(await h.taskNames(), []);
      assert.equal((await h.scheduledCondition()).reason, "Suspended");

      await h.patch({ spec: { suspend: false } });
      await h.waitForTasks([h.taskName(3)]);
    }),
});

Deno.test({
  name: "crontask: history keeps 3 Completed and 1 Failed Task",
  ...opts,
  fn: () =>
    withCronTask({ concurrencyPolicy: "Allow" }, async (h) => {
      const names: string[] = [];
      for (let n = 0; n < 6; n++) {
        await h.advanceTo(n);
        names.push(h.taskName(n));
        await h.waitForTasks(names);
      }
      // Oldest two fail, the next four complete.
      for (const [i, name] of names.entries()) {
        await h.setTaskPhase(name, i < 2 ? "Failed" : "Completed");
      }

      await h.waitForTasks([names[1], names[3], names[4], names[5]]);
      const ct = await eventually("no active Tasks left", async () => {
        const ct = await h.cronTask();
        return !ct.status?.active?.length && ct.status?.lastSuccessfulTime ? ct : undefined;
      });
      assert.ok(ct.status.lastSuccessfulTime);
    }),
});

Deno.test({
  name: "crontask: a restarted controller that lost its status write creates no duplicate",
  ...opts,
  fn: () =>
    withCronTask({ concurrencyPolicy: "Allow" }, async (h) => {
      await h.advanceTo(0);
      await h.waitForTasks([h.taskName(0)]);
      await h.stopManager();

      // As if the controller died between creating the Task and writing status.
      const ct = await h.cronTask();
      delete ct.status.lastScheduleTime;
      delete ct.status.active;
      await kubectl(["replace", "--subresource=status", "-f", "-"], JSON.stringify(ct));

      await h.startManager();
      await h.poke();
      assert.deepEqual(await h.taskNames(), [h.taskName(0)]);
      const after = await eventually("lastScheduleTime restored", async () => {
        const ct = await h.cronTask();
        return ct.status?.lastScheduleTime ? ct : undefined;
      });
      assert.equal(after.status.active?.[0]?.name, h.taskName(0));
    }),
});

Deno.test({
  name:
    "crontask: a Task in another namespace with a forged controller reference is not its active run",
  ...opts,
  fn: async () => {
    const other = await testNamespace("crontask-other");
    try {
      await withCronTask({ concurrencyPolicy: "Forbid" }, async (h) => {
        // Someone in another namespace writes our CronTask's uid into a Task
        // there. An apiVersion nobody serves keeps the garbage collector from
        // deleting it (it cannot look the owner up), so it stays as long as wanted.
        const uid = (await h.cronTask()).metadata.uid;
        const forged = {
          apiVersion: "kubetask.io/v1alpha1",
          kind: "Task",
          metadata: {
            name: "forged",
            namespace: other.name,
            ownerReferences: [{
              apiVersion: "kubetask.io/v0",
              kind: "CronTask",
              name: h.name,
              uid,
              controller: true,
            }],
          },
          spec: { description: "counted as your active run?" },
        };
        await kubectl(["create", "-f", "-"], JSON.stringify(forged));
        await h.advanceTo(0);
        // Forbid would skip the run if the forged Task counted as active.
        await h.waitForTasks([h.taskName(0)]);
        const cond = await h.scheduledCondition();
        console.log(`Scheduled: ${cond.reason}: ${cond.message}`);
        assert.equal(cond.reason, "TaskCreated");
        const ct = await h.cronTask();
        assert.deepEqual(ct.status.active.map((r: { name: string }) => r.name), [h.taskName(0)]);
      }, [other.name]);
    } finally {
      await other.cleanup();
    }
  },
});
