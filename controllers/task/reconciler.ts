// Reconciles one Task: observe (cache) → plan (pure) → apply (shared layer).
// A started Task is never rebuilt; its status follows its Job.
import { applyPlan } from "../runtime/apply.ts";
import { JobResource } from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import { Capacity } from "./capacity.ts";
import type { TaskMetrics } from "./metrics.ts";
import type { ReconcileContext, Request, Result } from "../runtime/types.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "./job.ts";
import { observeTask } from "./observe.ts";
import { planTask } from "./plan.ts";

export function reconcileTask(
  req: Request,
  ctx: ReconcileContext,
  settings: JobSettings = DEFAULT_JOB_SETTINGS,
  capacity: Capacity = new Capacity(),
  metrics?: TaskMetrics,
): Promise<Result> {
  // Admission under an Agent's limit is read-count-then-create: one at a time per Agent.
  const lock = capacity.lockFor(ctx.cache.get(TaskResource, req.namespace, req.name), ctx.cache);
  const once = () => reconcileOnce(req, ctx, settings, capacity, metrics);
  return lock ? capacity.mutex.run(lock, once) : once();
}

async function reconcileOnce(
  req: Request,
  ctx: ReconcileContext,
  settings: JobSettings,
  capacity: Capacity,
  metrics?: TaskMetrics,
): Promise<Result> {
  const observed = await observeTask(req, ctx, capacity.ledger, settings);
  if (!observed) return {};
  const now = ctx.now();
  const plan = planTask(observed, settings, now);
  // The slot is held from now: the cache will not show the Job at once.
  if (plan.ensure.some((d) => d.type === JobResource)) capacity.ledger.reserve(observed.raw);
  return await applyPlan(
    ctx,
    { type: TaskResource, object: observed.raw },
    plan,
    (refusal) => planTask(observed, settings, now, refusal),
    (outcome) => {
      if (metrics && outcome.statusWritten) {
        metrics.statusWritten(observed.raw, outcome.statusWritten, now);
      }
    },
  );
}
