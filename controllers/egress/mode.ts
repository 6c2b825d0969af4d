// Which egress mode an Agent runs under, decided once for the Agent's own
// NetworkPolicy and for the Task status that reports it.
import {
  type AgentSpec,
  type EgressMode,
  egressMode,
  type KubeTaskConfig,
} from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

/** When nothing decides: existing Agents keep working unless the platform opts in. */
export const DEFAULT_EGRESS_MODE: EgressMode = "Unrestricted";

/** The name of an Agent's NetworkPolicy, in its namespace (object names allow 253). */
export function networkPolicyNameFor(agentName: string): string {
  return `kubetask-egress-${agentName}`.slice(0, 253).replace(/[-.]+$/, "");
}

/**
 * The Agent's own mode wins, then the namespace's KubeTaskConfig "default",
 * then the operator's --default-egress. A KubeTaskConfig value that does not
 * parse (a CRD installed without its schema) counts as unset.
 */
export function effectiveEgressMode(
  spec: Pick<AgentSpec, "egress"> | undefined,
  config: KubeObject | KubeTaskConfig | undefined,
  operatorDefault: EgressMode = DEFAULT_EGRESS_MODE,
): EgressMode {
  if (spec?.egress?.mode) return spec.egress.mode;
  const fromConfig = egressMode.safeParse(config?.spec?.defaultEgressMode);
  return fromConfig.success ? fromConfig.data : operatorDefault;
}

/**
 * Whether a Restricted Agent's NetworkPolicy is in force for its current spec
 * (the egress controller says so in its status). Until then no agent pod may
 * start: it would run before anything restricts it.
 */
export function restrictedPolicyInForce(agent: {
  metadata: { name?: string; generation?: number };
  status?: { observedGeneration?: number; egress?: { networkPolicy?: string } };
}): boolean {
  const status = agent.status;
  return !!status?.egress?.networkPolicy &&
    status.egress.networkPolicy === networkPolicyNameFor(agent.metadata.name ?? "") &&
    (agent.metadata.generation === undefined ||
      status.observedGeneration === agent.metadata.generation);
}

/** What a Task's status.egress says of the Agent it ran with. */
export function taskEgressOf(
  agentName: string,
  spec: Pick<AgentSpec, "egress"> | undefined,
  config: KubeObject | undefined,
  operatorDefault?: EgressMode,
): { mode: EgressMode; networkPolicy?: string } {
  const mode = effectiveEgressMode(spec, config, operatorDefault);
  return mode === "Restricted"
    ? { mode, networkPolicy: networkPolicyNameFor(agentName) }
    : { mode };
}
