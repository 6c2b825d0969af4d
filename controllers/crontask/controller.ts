// The CronTask controller: reconciles CronTasks, and wakes a CronTask when
// one of its Tasks changes (a finished Task frees a Forbid slot and updates
// status.active / lastSuccessfulTime).
import { mapToController } from "../runtime/owners.ts";
import { CronTaskResource, TaskResource } from "../kinds.ts";
import type { Controller } from "../runtime/types.ts";
import { reconcileCronTask } from "./reconciler.ts";
import { CronTaskMetrics } from "./metrics.ts";
import { taskForCache } from "../task/large_text.ts";

const KIND = "CronTask";

/** The CronTask that controls a Task, if any. */
export const ownerCronTask = mapToController(KIND, CronTaskResource);

export function createCronTaskController(): Controller {
  const metrics = new CronTaskMetrics();
  return {
    kind: KIND,
    type: CronTaskResource,
    // One Task cache, shared with the Task controller: the same transform.
    watches: [{ type: TaskResource, transform: taskForCache, map: ownerCronTask }],
    reconcile: (req, ctx) => reconcileCronTask(req, ctx, metrics),
    metrics,
  };
}

export const cronTaskController: Controller = createCronTaskController();
