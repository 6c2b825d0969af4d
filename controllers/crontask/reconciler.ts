// Reconciles one CronTask: read it and its Tasks, plan (plan.ts), then apply
// the plan through the KubeClient and write status.
import { cronTaskSpec, type CronTaskStatus } from "../../api/v1alpha1/index.ts";
import { CronTaskResource, TaskResource } from "../runtime/resources.ts";
import {
  AlreadyExistsError,
  ConflictError,
  type ReconcileContext,
  type Request,
  type Result,
} from "../runtime/types.ts";
import { SCHEDULED, setCondition } from "./conditions.ts";
import { type CronTaskPlan, planCronTask } from "./plan.ts";
import { type CronTaskObject, isOwnedBy, referenceTo, rfc3339, type TaskObject } from "./tasks.ts";
import { sameJson, STATUS_WRITE_ATTEMPTS } from "../status.ts";

export async function reconcileCronTask(req: Request, ctx: ReconcileContext): Promise<Result> {
  const obj = await ctx.client.get<CronTaskObject>(CronTaskResource, req.namespace, req.name);
  // Deleted: garbage collection removes its Tasks through their ownerReferences.
  if (!obj || obj.metadata.deletionTimestamp) return {};
  const now = ctx.now();

  const parsed = cronTaskSpec.safeParse(obj.spec);
  if (!parsed.success) {
    const message = `invalid spec: ${
      parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
    }`;
    await ctx.events.event(obj, "Warning", "InvalidSpec", message);
    const conditions = setCondition(obj.status?.conditions, {
      type: SCHEDULED,
      status: "False",
      reason: "InvalidSpec",
      message,
      observedGeneration: obj.metadata.generation,
    }, rfc3339(now));
    await writeStatus(ctx, obj, {
      ...obj.status,
      observedGeneration: obj.metadata.generation,
      conditions,
    });
    return {};
  }
  const cronTask: CronTaskObject = { ...obj, spec: parsed.data };

  const owned = await ownedTasks(ctx, cronTask);
  const plan = planCronTask(cronTask, owned, now);
  const status = await apply(ctx, cronTask, plan);
  await writeStatus(ctx, obj, status);
  return plan.requeueAfterMs === undefined ? {} : { requeueAfterMs: plan.requeueAfterMs };
}

/**
 * The Tasks this CronTask controls. A Task named in status.active but missing
 * from the list (a read cache lagging behind a create) is fetched directly, so
 * Forbid never misses a Task that is really running.
 */
async function ownedTasks(ctx: ReconcileContext, cronTask: CronTaskObject): Promise<TaskObject[]> {
  const uid = cronTask.metadata.uid ?? "";
  const ns = cronTask.metadata.namespace ?? "";
  const listed = (await ctx.client.list<TaskObject>(TaskResource, ns)).filter((t) =>
    isOwnedBy(t, uid)
  );
  const names = new Set(listed.map((t) => t.metadata.name));
  for (const ref of cronTask.status?.active ?? []) {
    if (names.has(ref.name)) continue;
    const task = await ctx.client.get<TaskObject>(TaskResource, ref.namespace ?? ns, ref.name);
    if (task && isOwnedBy(task, uid)) listed.push(task);
  }
  return listed;
}

/** Deletes, creates and records Events; returns the status to write. */
async function apply(
  ctx: ReconcileContext,
  cronTask: CronTaskObject,
  plan: CronTaskPlan,
): Promise<CronTaskStatus> {
  const ns = cronTask.metadata.namespace ?? "";
  for (const event of plan.events) {
    await ctx.events.event(cronTask, event.type, event.reason, event.message);
  }

  const deleteTask = async (task: (typeof plan.prune)[number], what: string) => {
    await ctx.client.delete(TaskResource, ns, task.metadata.name ?? "", { uid: task.metadata.uid });
    await ctx.events.event(cronTask, "Normal", "SuccessfulDelete", `Deleted ${what}`);
  };
  for (const task of plan.prune) await deleteTask(task, `finished Task ${task.metadata.name}`);
  for (const task of plan.replace) {
    await deleteTask(task, `active Task ${task.metadata.name} (concurrencyPolicy Replace)`);
  }
  if (!plan.create) return plan.status;

  const name = plan.create.metadata.name ?? "";
  let created: TaskObject;
  try {
    created = await ctx.client.create(TaskResource, plan.create);
    await ctx.events.event(cronTask, "Normal", "SuccessfulCreate", `Created Task ${name}`);
    ctx.log.info("created Task", { namespace: ns, cronTask: cronTask.metadata.name, task: name });
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
    // Same deterministic name: an earlier attempt already created it.
    const existing = await ctx.client.get<TaskObject>(TaskResource, ns, name);
    if (!existing || !isOwnedBy(existing, cronTask.metadata.uid ?? "")) {
      const message =
        `Task ${name} already exists and is not owned by this CronTask; skipped this run`;
      await ctx.events.event(cronTask, "Warning", "TaskNameConflict", message);
      return {
        ...plan.status,
        active: plan.status.active?.filter((ref) => ref.name !== name),
        conditions: setCondition(plan.status.conditions, {
          type: SCHEDULED,
          status: "False",
          reason: "TaskNameConflict",
          message,
          observedGeneration: cronTask.metadata.generation,
        }, rfc3339(ctx.now())),
      };
    }
    created = existing;
  }
  return {
    ...plan.status,
    active: plan.status.active?.map((ref) => (ref.name === name ? referenceTo(created) : ref)),
  };
}

/** Writes status through the status subresource, re-reading on a conflict. Skips no-op writes. */
async function writeStatus(
  ctx: ReconcileContext,
  obj: CronTaskObject,
  desired: CronTaskStatus,
): Promise<void> {
  // An empty list is omitted, as Kubernetes status fields are.
  const status = desired.active?.length === 0 ? { ...desired, active: undefined } : desired;
  let current: CronTaskObject | undefined = obj;
  for (let attempt = 1; current; attempt++) {
    if (sameJson(current.status ?? {}, status)) return;
    try {
      await ctx.client.updateStatus(CronTaskResource, { ...current, status });
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= STATUS_WRITE_ATTEMPTS) throw err;
    }
    const fresh: CronTaskObject | undefined = await ctx.client.get<CronTaskObject>(
      CronTaskResource,
      obj.metadata.namespace ?? "",
      obj.metadata.name ?? "",
    );
    // Deleted and recreated under the same name: this status is not for it.
    current = fresh?.metadata.uid === obj.metadata.uid ? fresh : undefined;
  }
}
