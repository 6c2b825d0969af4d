// Reconciles one Task: observe the facts (cache) → decide (pure) → the live
// reads the decisions call for → plan (pure) → apply (shared layer) → the
// slot ledger from what apply did. A started Task is never rebuilt; its
// status follows its Job.
import { applyPlan } from "../runtime/apply.ts";
import { JobResource } from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import { Capacity } from "./capacity.ts";
import type { TaskMetrics } from "./metrics.ts";
import type { ReconcileContext, Request, Result } from "../runtime/types.ts";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "./job.ts";
import { observeLive, observeTask } from "./observe.ts";
import { decide, planTask } from "./plan.ts";

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
  const facts = await observeTask(req, ctx, capacity.ledger, settings.kueue ?? false);
  if (!facts) return {};
  const now = ctx.now(); // the one clock read: every decision is made at this time
  const decisions = decide(facts, now);
  const observed = await observeLive(facts, decisions.reads, ctx, settings);
  if (!observed) return {};
  const plan = planTask(observed, decisions, settings, now);
  return await applyPlan(
    ctx,
    { type: TaskResource, object: observed.raw },
    plan,
    (refusal) => planTask(observed, decisions, settings, now, refusal),
    (outcome) => {
      // The ledger learns of a Job only once it exists (created, or adopted).
      const job = [...outcome.created, ...outcome.adopted].some((d) => d.type === JobResource);
      capacity.applied(observed.raw, job, ctx.cache);
      if (metrics && outcome.statusWritten) {
        metrics.statusWritten(observed.raw, outcome.statusWritten, now);
      }
    },
  );
}
