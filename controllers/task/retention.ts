// How long finished Tasks are kept, per namespace (its KubeTaskConfig
// "default", taskLifecycle): by age, ttlSecondsAfterFinished (else 7 days; 0
// disables), and by count, maxFinishedTasks (beyond it the oldest finished
// Tasks of the namespace go first). Each finished Task decides for itself from
// the cache, and a Task that finishes wakes the ones it pushes out. Deleting a
// Task cascades to its Job and ConfigMap through owner references.
import { DEFAULT_TTL_SECONDS_AFTER_FINISHED, kubeTaskConfig } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { isFinishedPhase } from "../status.ts";

/** TTL in seconds from the namespace's KubeTaskConfig (absent or invalid: default). */
export function ttlSecondsFrom(config: KubeObject | undefined): number {
  if (!config) return DEFAULT_TTL_SECONDS_AFTER_FINISHED;
  const parsed = kubeTaskConfig.safeParse(config);
  if (!parsed.success) return DEFAULT_TTL_SECONDS_AFTER_FINISHED;
  return parsed.data.spec.taskLifecycle?.ttlSecondsAfterFinished ??
    DEFAULT_TTL_SECONDS_AFTER_FINISHED;
}

export type TtlDecision =
  | { action: "keep" }
  | { action: "delete" }
  | { action: "requeue"; afterMs: number };

/** Delete once completionTime + ttl <= now; otherwise wake up when it will be. */
export function ttlDecision(
  completionTime: string | undefined,
  ttlSeconds: number,
  now: Date,
): TtlDecision {
  if (ttlSeconds <= 0 || !completionTime) return { action: "keep" };
  const finishedAt = Date.parse(completionTime);
  if (Number.isNaN(finishedAt)) return { action: "keep" };
  const remainingMs = finishedAt + ttlSeconds * 1000 - now.getTime();
  return remainingMs <= 0 ? { action: "delete" } : { action: "requeue", afterMs: remainingMs };
}

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
