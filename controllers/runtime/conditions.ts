// metav1.Condition bookkeeping and API timestamps, for any kind's status.
// Every kind's status.conditions has this shape (api/v1alpha1/common.ts
// declares ours with zod; the two are the same type).

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message?: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Kubernetes timestamps have second precision. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
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
