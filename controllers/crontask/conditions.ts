// metav1.Condition bookkeeping for CronTask status (pure).
import type { Condition } from "../../api/v1alpha1/index.ts";

/** The one condition a CronTask reports: did the last scheduling attempt work? */
export const SCHEDULED = "Scheduled";

export type ConditionUpdate = Omit<Condition, "lastTransitionTime">;

/**
 * Returns `conditions` with `update` applied. lastTransitionTime moves only
 * when the status flips, so kubectl shows how long a state has lasted.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  update: ConditionUpdate,
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

export function findCondition(
  conditions: Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
