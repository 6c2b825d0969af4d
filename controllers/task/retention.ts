// Count-based cleanup of finished Tasks (KubeTaskConfig "default",
// taskLifecycle.maxFinishedTasks): beyond the limit the oldest finished Tasks
// of the namespace go first, alongside the TTL. Each finished Task decides
// for itself from the cache; a Task that finishes wakes the ones it pushes out.
import { kubeTaskConfig } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { isFinishedPhase } from "../status.ts";

/** The namespace's limit on finished Tasks; undefined for none. */
export function maxFinishedFrom(config: KubeObject | undefined): number | undefined {
  const parsed = config ? kubeTaskConfig.safeParse(config) : undefined;
  return parsed?.success ? parsed.data.spec.taskLifecycle?.maxFinishedTasks : undefined;
}

const finishedAt = (t: KubeObject) => String(t.status?.completionTime ?? "");
const oldestFirst = (a: KubeObject, b: KubeObject) =>
  finishedAt(a).localeCompare(finishedAt(b)) ||
  String(a.metadata?.name).localeCompare(String(b.metadata?.name));

/**
 * The finished Tasks of one namespace beyond `limit`, oldest first. `tasks`
 * is only called when there is a limit: without one nothing is listed.
 */
export function beyondLimit(tasks: () => KubeObject[], limit: number | undefined): KubeObject[] {
  if (limit === undefined) return [];
  const finished = tasks().filter((t) =>
    isFinishedPhase(t.status?.phase) && !t.metadata?.deletionTimestamp
  );
  return finished.sort(oldestFirst).slice(0, Math.max(0, finished.length - limit));
}
