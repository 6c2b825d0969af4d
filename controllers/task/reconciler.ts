// Reconciles one Task: observe (cache) → plan (pure) → apply (shared layer).
// A started Task is never rebuilt; its status follows its Job.
import { applyPlan } from "../runtime/apply.ts";
import { TaskResource } from "../runtime/resources.ts";
import type { ReconcileContext, Request, Result } from "../runtime/types.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "./job.ts";
import { observeTask } from "./observe.ts";
import { planTask } from "./plan.ts";

export async function reconcileTask(
  req: Request,
  ctx: ReconcileContext,
  settings: JobSettings = DEFAULT_JOB_SETTINGS,
): Promise<Result> {
  const observed = await observeTask(req, ctx);
  if (!observed) return {};
  const now = ctx.now();
  return await applyPlan(
    ctx,
    { type: TaskResource, object: observed.raw },
    planTask(observed, settings, now),
    (refusal) => planTask(observed, settings, now, refusal),
  );
}
