// Agent.spec.egress: where an Agent's pods may connect. Restricted Agents get
// one NetworkPolicy the operator owns (controllers/egress/); NetworkPolicy is
// L3/L4, so rules name addresses and ports, never domain names.
import { z } from "zod";
import { celRules, namespaceName, objectName } from "./validation.ts";

export const EGRESS_MODES = ["Unrestricted", "Restricted"] as const;
export const egressMode = z.enum(EGRESS_MODES);
export type EgressMode = z.infer<typeof egressMode>;

/** The label the operator puts on every agent pod: the Agent's uid. NetworkPolicies select by it. */
export const AGENT_UID_LABEL = "kubetask.io/agent-uid";

/**
 * The label the operator puts on every agent pod: its Task's uid. The
 * NetworkPolicy that lets one Task's pod reach its Git contexts' hosts
 * selects by it (with the Agent's uid): unique, and never taken from a spec.
 */
export const TASK_UID_LABEL = "kubetask.io/task-uid";

export const MAX_EGRESS_RULES = 32;

/** Whether a Restricted Agent's Tasks open egress to their Git contexts' hosts themselves. */
export const GIT_HOSTS_MODES = ["Automatic", "Listed"] as const;

/** Whether `egress` lets each Task's pod reach its Git contexts' hosts through a policy of its own. */
export function gitHostsAutomatic(egress: { gitHosts?: string } | undefined): boolean {
  return egress?.gitHosts !== "Listed";
}
const MAX_PORTS = 16;

export const egressPort = z.object({
  protocol: z.enum(["TCP", "UDP", "SCTP"]).default("TCP"),
  port: z.int32().min(1).max(65535).describe("Destination port (of the pod, after a Service)."),
  endPort: z.int32().min(1).max(65535).optional().describe("Last port of a range from port."),
}).meta(celRules({
  rule: "!has(self.endPort) || self.endPort >= self.port",
  message: "egress.allow[].ports[].endPort must not be below port",
  fieldPath: ".endPort",
}));
export type EgressPort = z.infer<typeof egressPort>;

export const egressServiceRef = z.object({
  namespace: namespaceName("egress.allow[].service.namespace").optional().describe(
    "Namespace of the Service (default: the Agent's).",
  ),
  name: objectName("egress.allow[].service.name").describe("Name of the Service."),
});

export const egressRule = z.object({
  cidr: z.string().max(64).optional().describe(
    'Destination addresses as a CIDR, e.g. "203.0.113.7/32" for one host.',
  ).meta(celRules({
    rule: "isCIDR(self)",
    message: 'egress.allow[].cidr must be a CIDR such as "203.0.113.7/32" or "10.0.0.0/8"',
  })),
  service: egressServiceRef.optional().describe(
    "A Service with a selector: its pods (the controller resolves it to a namespace and pod " +
      "selector, and its target ports when ports is not set).",
  ),
  ports: z.array(egressPort).max(MAX_PORTS).optional().describe(
    "Allowed destination ports; unset: every port (cidr) or the Service's target ports.",
  ),
}).meta(celRules({
  rule: "has(self.cidr) != has(self.service)",
  message: "an egress.allow rule must set exactly one of cidr or service",
}));
export type EgressRule = z.infer<typeof egressRule>;

export const agentEgress = z.object({
  mode: egressMode.optional().describe(
    "Restricted: connections only to what allow lists (and cluster DNS). Unset: the " +
      "namespace's KubeTaskConfig spec.defaultEgressMode, else the operator's --default-egress " +
      "(Unrestricted unless the platform opts in).",
  ),
  dns: z.boolean().optional().describe(
    "Whether a Restricted Agent may query the cluster DNS (kube-system pods labelled " +
      "k8s-app=kube-dns, port 53); default true.",
  ),
  allow: z.array(egressRule).max(MAX_EGRESS_RULES).optional().describe(
    "What a Restricted Agent may connect to (at most 32 rules). The hosts of a Task's Git " +
      "contexts need no rule unless gitHosts is Listed.",
  ),
  gitHosts: z.enum(GIT_HOSTS_MODES).optional().describe(
    "How a Restricted Agent's Tasks reach their Git contexts' hosts. Automatic (the default): " +
      "each Task's pod gets a NetworkPolicy of its own for its repositories' addresses, so the " +
      "Task's author chooses what that pod may reach (one address and port per Git context). " +
      "Listed: only what allow lists; a Task's Contexts open nothing.",
  ),
});
export type AgentEgress = z.infer<typeof agentEgress>;
