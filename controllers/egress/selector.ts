// metav1.LabelSelector matching, for the question "does that other
// NetworkPolicy select this Agent's pods?".
import type { KubeObject } from "../runtime/types.ts";

interface Requirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Requirement[];
}

/**
 * Whether `selector` selects a pod with `labels`. Keys in `varying` take a
 * different value on each pod (the Task label): any requirement on them is
 * taken as met, since some pod of the Agent may meet it.
 */
export function selects(
  selector: LabelSelector | KubeObject | undefined,
  labels: Record<string, string>,
  varying: ReadonlySet<string> = new Set(),
): boolean {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (!varying.has(key) && labels[key] !== value) return false;
  }
  for (const req of (selector?.matchExpressions ?? []) as Requirement[]) {
    if (varying.has(req.key)) continue;
    const has = req.key in labels;
    const values = req.values ?? [];
    const ok = req.operator === "In"
      ? has && values.includes(labels[req.key])
      : req.operator === "NotIn"
      ? !has || !values.includes(labels[req.key])
      : req.operator === "Exists"
      ? has
      : req.operator === "DoesNotExist"
      ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}
