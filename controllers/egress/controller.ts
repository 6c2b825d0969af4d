// The Agent egress controller: Agents are its primary kind; a change to a
// NetworkPolicy wakes the Agent that owns it, or (another policy, which may
// re-open egress) every Agent of its namespace; so does the namespace's
// KubeTaskConfig, which may set the default mode.
import type { EgressMode } from "../../api/v1alpha1/index.ts";
import { mapToController } from "../runtime/owners.ts";
import { NetworkPolicyResource } from "../runtime/resources.ts";
import { AgentResource, KubeTaskConfigResource } from "../kinds.ts";
import type { CacheReader, Controller, KubeObject, Request } from "../runtime/types.ts";
import type { GatewaySettings } from "../task/gateway.ts";
import { reconcileAgentEgress } from "./reconciler.ts";
import { isTaskGitPolicy } from "./git.ts";

const KIND = "Agent";

const ownerAgent = mapToController(KIND, AgentResource);

function agentsOfNamespace(obj: KubeObject, cache: CacheReader): Request[] {
  const namespace = obj.metadata?.namespace ?? "";
  return cache.list(AgentResource, namespace).map((a) => ({
    kind: KIND,
    namespace,
    name: a.metadata?.name ?? "",
  }));
}

function mapPolicy(obj: KubeObject, cache: CacheReader): Request[] {
  // A Task's Git egress policy concerns no Agent's trap check (git.ts).
  if (isTaskGitPolicy(obj)) return [];
  const owner = ownerAgent(obj);
  return owner.length ? owner : agentsOfNamespace(obj, cache);
}

export function createEgressController(
  settings: { defaultEgress?: EgressMode; gateway?: GatewaySettings } = {},
): Controller {
  return {
    kind: KIND,
    type: AgentResource,
    watches: [
      { type: NetworkPolicyResource, map: mapPolicy },
      { type: KubeTaskConfigResource, map: agentsOfNamespace },
    ],
    reconcile: (req, ctx) =>
      reconcileAgentEgress(req, ctx, settings.defaultEgress, settings.gateway),
  };
}
