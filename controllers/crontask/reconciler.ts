// Reconciles one CronTask: observe it and its Tasks (cache) → plan (pure,
// plan.ts) → apply (the shared layer), the same shape as the Task reconciler.
import { applyPlan } from "../runtime/apply.ts";
import { CronTaskResource, TaskResource } from "../kinds.ts";
import type { ReconcileContext, Request, Result } from "../runtime/types.ts";
import { observeCronTask } from "./observe.ts";
import { planCronTask } from "./plan.ts";
import type { CronTaskMetrics } from "./metrics.ts";

export async function reconcileCronTask(
  req: Request,
  ctx: ReconcileContext,
  metrics?: CronTaskMetrics,
): Promise<Result> {
  const observed = await observeCronTask(req, ctx);
  if (!observed) return {};
  const now = ctx.now();
  return await applyPlan(
    ctx,
    { type: CronTaskResource, object: observed.raw },
    planCronTask(observed, now),
    (refusal) => planCronTask(observed, now, refusal),
    (outcome) => {
      if (!metrics) return;
      const started = outcome.created.some((d) => d.type === TaskResource);
      metrics.applied(observed.raw, outcome.statusWritten, started);
    },
  );
}
