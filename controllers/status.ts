// Status helpers both reconcilers use: metav1.Condition bookkeeping, API
// timestamps, and the equality check that keeps unchanged status unwritten.
import { isDeepStrictEqual } from "node:util";
import type { Condition, TaskPhase } from "../api/v1alpha1/index.ts";

/** Kubernetes timestamps have second precision. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Whether a Task in `phase` has finished: Completed or Failed, for good. */
export function isFinishedPhase(phase: TaskPhase | string | undefined): boolean {
  return phase === "Completed" || phase === "Failed";
}

/**
 * Returns `conditions` with `update` applied. lastTransitionTime moves only
 * when the status flips, so kubectl shows how long a state has lasted.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  update: Omit<Condition, "lastTransitionTime">,
  now: string,
): Condition[] {
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === update.type);
  const lastTransitionTime = existing && existing.status === update.status
    ? existing.lastTransitionTime
    : now;
  const next: Condition = { ...update, lastTransitionTime };
  return existing ? list.map((c) => (c === existing ? next : c)) : [...list, next];
}

/** Equal as the apiserver would store them: key order and undefined fields do not count. */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(
    JSON.parse(JSON.stringify(a ?? null)),
    JSON.parse(JSON.stringify(b ?? null)),
  );
}
