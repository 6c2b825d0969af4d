// The CronTask controller: reconciles CronTasks, and wakes a CronTask when
// one of its Tasks changes (a finished Task frees a Forbid slot and updates
// status.active / lastSuccessfulTime).
import { CronTaskResource, TaskResource } from "../runtime/resources.ts";
import type { Controller, KubeObject, Request } from "../runtime/types.ts";
import { reconcileCronTask } from "./reconciler.ts";

/** The CronTask that controls `task`, if any. */
export function ownerCronTask(task: KubeObject): Request[] {
  const owner = task.metadata?.ownerReferences?.find((ref) =>
    ref.controller === true && ref.kind === "CronTask" &&
    ref.apiVersion === CronTaskResource.apiVersion
  );
  const namespace = task.metadata?.namespace;
  return owner && namespace ? [{ kind: "CronTask", namespace, name: owner.name }] : [];
}

export const cronTaskController: Controller = {
  kind: "CronTask",
  type: CronTaskResource,
  watches: [{ type: TaskResource, map: ownerCronTask }],
  reconcile: reconcileCronTask,
};
