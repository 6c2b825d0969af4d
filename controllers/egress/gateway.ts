// A Restricted Agent that calls its model through the KubeTask gateway needs
// no rule for the model API: the operator adds one for the gateway itself,
// as the Agent's admin would have written it (the gateway's Service, or its
// address when it runs outside the pod network). Nothing else is opened.
import type { AgentEgress, AgentSpec } from "../../api/v1alpha1/index.ts";
import type { GatewaySettings } from "../task/gateway.ts";

/** Where agent pods reach the gateway, as a NetworkPolicy can name it. */
export type GatewayEgress =
  | { service: { namespace: string; name: string } }
  | { cidr: string; port: number };

/** The Agent's egress with the gateway's rule appended (last), when it uses the gateway. */
export function withGatewayRule(
  spec: Pick<AgentSpec, "egress" | "modelProvider">,
  gateway: GatewaySettings | undefined,
): AgentEgress | undefined {
  const to = gateway?.egress;
  if (!spec.modelProvider || !to) return spec.egress;
  const rule = "service" in to
    ? { service: to.service }
    : { cidr: to.cidr, ports: [{ protocol: "TCP" as const, port: to.port }] };
  return { ...spec.egress, allow: [...(spec.egress?.allow ?? []), rule] };
}

/** The field a rule's problem is reported on: the Agent's own, or the operator's gateway rule. */
export function egressRuleField(spec: Pick<AgentSpec, "egress">, index: number): string {
  return index < (spec.egress?.allow?.length ?? 0)
    ? `spec.egress.allow[${index}]`
    : "the model gateway's rule (operator flag --gateway-service)";
}
