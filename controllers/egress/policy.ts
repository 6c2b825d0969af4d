// The NetworkPolicy of a Restricted Agent (pure): it selects the Agent's pods
// by the label the operator sets on them, denies all egress and allows back
// what the Agent lists. NetworkPolicy is L3/L4: addresses, pods and ports.
import { AGENT_UID_LABEL, type AgentEgress, type EgressPort } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { networkPolicyNameFor } from "./mode.ts";

/** The cluster DNS as kubeadm and most distributions label it. */
export const CLUSTER_DNS_PEER = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
};

/** A Service as a NetworkPolicy can name it: the pods behind it and their ports. */
export interface ResolvedService {
  namespace: string;
  selector: Record<string, string>;
  /** Target ports (what the pods listen on: a NetworkPolicy sees traffic after the Service). */
  ports: NetworkPolicyPort[];
}

export interface NetworkPolicyPort {
  protocol: string;
  port: number | string;
  endPort?: number;
}

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "kubetask" };

function portsOf(ports: EgressPort[] | undefined): NetworkPolicyPort[] | undefined {
  if (!ports?.length) return undefined;
  return ports.map((p) => ({
    protocol: p.protocol ?? "TCP",
    port: p.port,
    ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
  }));
}

/**
 * The NetworkPolicy for Agent `name` (uid `uid`) in `namespace`; `services`
 * holds the resolution of each service rule, by index in `egress.allow`.
 */
export function buildNetworkPolicy(
  namespace: string,
  name: string,
  uid: string,
  egress: AgentEgress | undefined,
  services: Map<number, ResolvedService>,
): KubeObject {
  const rules: KubeObject[] = [];
  if (egress?.dns ?? true) {
    rules.push({
      to: [CLUSTER_DNS_PEER],
      ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    });
  }
  (egress?.allow ?? []).forEach((rule, i) => {
    const ports = portsOf(rule.ports);
    if (rule.cidr) {
      rules.push({ to: [{ ipBlock: { cidr: rule.cidr } }], ...(ports ? { ports } : {}) });
      return;
    }
    const svc = services.get(i);
    if (!svc) return;
    const svcPorts = ports ?? (svc.ports.length ? svc.ports : undefined);
    rules.push({
      to: [{
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": svc.namespace } },
        podSelector: { matchLabels: svc.selector },
      }],
      ...(svcPorts ? { ports: svcPorts } : {}),
    });
  });
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: networkPolicyNameFor(name), namespace, labels: { ...MANAGED_BY } },
    spec: {
      podSelector: { matchLabels: { [AGENT_UID_LABEL]: uid } },
      policyTypes: ["Egress"],
      egress: rules,
    },
  };
}

/**
 * A Service's pods and target ports, or why a NetworkPolicy cannot name them
 * (no selector: ExternalName, or endpoints kept by hand).
 */
export function resolveService(
  svc: KubeObject,
): ResolvedService | { problem: string } {
  const selector = svc.spec?.selector as Record<string, string> | undefined;
  if (!selector || Object.keys(selector).length === 0) {
    return { problem: "has no pod selector (ExternalName or hand-kept endpoints)" };
  }
  const ports = ((svc.spec?.ports ?? []) as KubeObject[]).map((p) => ({
    protocol: (p.protocol as string | undefined) ?? "TCP",
    port: (p.targetPort as number | string | undefined) ?? (p.port as number),
  }));
  return { namespace: svc.metadata?.namespace ?? "", selector, ports };
}
