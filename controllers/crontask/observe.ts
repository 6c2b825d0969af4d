// What is true now for one CronTask, read from the informer caches: the
// CronTask (its spec parsed, or why it cannot be) and the Tasks it controls.
// One read is live on purpose: a Task that status.active lists but the cache
// lacks (the cache lagging behind our own create), so that Forbid never misses
// a run that is really active.
import { cronTaskSpec, describeIssues } from "../../api/v1alpha1/index.ts";
import { isControlledBy, ownerIndexKey } from "../runtime/owners.ts";
import { CronTaskResource, TaskResource } from "../kinds.ts";
import { OWNER_INDEX, type ReconcileContext, type Request } from "../runtime/types.ts";
import type { CronTaskObject, TaskObject } from "./tasks.ts";

export interface CronTaskObservation {
  /** The CronTask as cached (its resourceVersion guards the status write). */
  raw: CronTaskObject;
  /** The CronTask with its spec parsed and defaulted (the cached one when invalidSpec is set). */
  cronTask: CronTaskObject;
  /** The spec fails validation (a CRD without its rules, or an older one): why. */
  invalidSpec?: string;
  /** The Tasks it controls (none read when the spec is invalid). */
  owned: TaskObject[];
}

export async function observeCronTask(
  req: Request,
  ctx: ReconcileContext,
): Promise<CronTaskObservation | undefined> {
  const raw = ctx.cache.get<CronTaskObject>(CronTaskResource, req.namespace, req.name);
  // Deleted: garbage collection removes its Tasks through their ownerReferences.
  if (!raw || raw.metadata.deletionTimestamp) return undefined;
  const parsed = cronTaskSpec.safeParse(raw.spec);
  if (!parsed.success) {
    return { raw, cronTask: raw, invalidSpec: describeIssues(parsed.error), owned: [] };
  }
  const cronTask: CronTaskObject = { ...raw, spec: parsed.data };
  return { raw, cronTask, owned: await ownedTasks(ctx, cronTask) };
}

/**
 * The Tasks this CronTask controls, from the cache's owner index. A Task named
 * in status.active but not cached is read live.
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
