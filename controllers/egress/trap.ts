// NetworkPolicies add up: a pod selected by several may connect wherever any
// of them allows. Another policy that selects an Agent's pods and allows
// egress therefore re-opens what the Agent's own policy closes.
import { AGENT_UID_LABEL } from "../../api/v1alpha1/index.ts";
import { TASK_LABEL } from "../task/names.ts";
import type { KubeObject } from "../runtime/types.ts";
import { selects } from "./selector.ts";

/** The labels every pod of this Agent carries (the Task label varies from pod to pod). */
export function agentPodLabels(
  uid: string,
  podLabels: Record<string, string> | undefined,
): Record<string, string> {
  return { ...podLabels, [AGENT_UID_LABEL]: uid };
}

const VARYING = new Set([TASK_LABEL]);

/** Whether a policy governs egress and allows some of it (an empty egress list denies all). */
function allowsEgress(policy: KubeObject): boolean {
  const types = policy.spec?.policyTypes as string[] | undefined;
  const egress = (policy.spec?.egress ?? []) as unknown[];
  // Without policyTypes, a policy governs egress exactly when it has egress rules.
  const governsEgress = types ? types.includes("Egress") : egress.length > 0;
  return governsEgress && egress.length > 0;
}

/** Names of the `policies` (not the Agent's own) that select its pods and allow egress. */
export function reopeningPolicies(
  policies: KubeObject[],
  labels: Record<string, string>,
): string[] {
  return policies
    .filter((p) => allowsEgress(p) && selects(p.spec?.podSelector, labels, VARYING))
    .map((p) => p.metadata?.name ?? "")
    .sort();
}
