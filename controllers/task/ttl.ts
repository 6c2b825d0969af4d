// TTL-based cleanup of finished Tasks (KubeTaskConfig "default" in the
// Task's namespace, else 7 days; 0 disables). Deleting the Task cascades to
// its Job and ConfigMap through owner references.
import { DEFAULT_TTL_SECONDS_AFTER_FINISHED, kubeTaskConfig } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

export const KUBETASK_CONFIG_NAME = "default";

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
