// metav1.Condition bookkeeping for CronTask status (pure).
import type { Condition } from "../../api/v1alpha1/index.ts";
import { setCondition } from "../runtime/conditions.ts";

export { setCondition };

/** The one condition a CronTask reports: did the last scheduling attempt work? */
export const SCHEDULED = "Scheduled";

export type ConditionUpdate = Omit<Condition, "lastTransitionTime">;

export function findCondition(
  conditions: Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
