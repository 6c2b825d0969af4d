// Reconciles one CronTask: observe it and its Tasks (cache) → plan (pure,
// plan.ts) → apply (the shared layer).
import { cronTaskSpec, describeIssues } from "../../api/v1alpha1/index.ts";
import { applyPlan } from "../runtime/apply.ts";
import { isControlledBy, ownerIndexKey } from "../runtime/owners.ts";
import { CronTaskResource, TaskResource } from "../runtime/resources.ts";
import { OWNER_INDEX, type ReconcileContext, type Request, type Result } from "../runtime/types.ts";
import { invalidSpecPlan, planCronTask, refusedPlan, toApplyPlan } from "./plan.ts";
import type { CronTaskMetrics } from "./metrics.ts";
import type { CronTaskObject, TaskObject } from "./tasks.ts";

export async function reconcileCronTask(
  req: Request,
  ctx: ReconcileContext,
  metrics?: CronTaskMetrics,
): Promise<Result> {
  const obj = ctx.cache.get<CronTaskObject>(CronTaskResource, req.namespace, req.name);
  // Deleted: garbage collection removes its Tasks through their ownerReferences.
  if (!obj || obj.metadata.deletionTimestamp) return {};
  const now = ctx.now();
  const primary = { type: CronTaskResource, object: obj };

  const parsed = cronTaskSpec.safeParse(obj.spec);
  if (!parsed.success) {
    const message = `invalid spec: ${describeIssues(parsed.error)}`;
    return await applyPlan(ctx, primary, invalidSpecPlan(obj, message, now));
  }
  const cronTask: CronTaskObject = { ...obj, spec: parsed.data };
  const plan = planCronTask(cronTask, await ownedTasks(ctx, cronTask), now);
  return await applyPlan(
    ctx,
    primary,
    toApplyPlan(cronTask, plan),
    (refusal) => refusedPlan(cronTask, plan, refusal, now),
    (outcome) => {
      if (!metrics) return;
      const started = outcome.created.some((d) => d.type === TaskResource);
      metrics.applied(obj, outcome.statusWritten, started);
    },
  );
}

/**
 * The Tasks this CronTask controls, from the cache's owner index. A Task named
 * in status.active but not cached (the cache lagging behind our own create)
 * is read live, so Forbid never misses a Task that is really running.
 */
async function ownedTasks(ctx: ReconcileContext, cronTask: CronTaskObject): Promise<TaskObject[]> {
  const ns = cronTask.metadata.namespace ?? "";
  const owned = ctx.cache.byIndex<TaskObject>(TaskResource, OWNER_INDEX, ownerIndexKey(cronTask))
    .filter((t) => isControlledBy(t, cronTask));
  const names = new Set(owned.map((t) => t.metadata.name));
  for (const ref of cronTask.status?.active ?? []) {
    if (names.has(ref.name)) continue;
    // Our own runs live in our namespace, whatever a status says.
    const task = await ctx.live.get<TaskObject>(TaskResource, ns, ref.name);
    if (task && isControlledBy(task, cronTask)) owned.push(task);
  }
  return owned;
}
