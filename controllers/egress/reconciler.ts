// Reconciles one Agent's egress: observe the Agent, its NetworkPolicy and the
// namespace's others (cache), the Services it names (live) → plan (pure,
// plan.ts) → apply (the shared layer).
import {
  type AgentEgress,
  agentSpec,
  describeIssues,
  type EgressMode,
} from "../../api/v1alpha1/index.ts";
import { applyPlan } from "../runtime/apply.ts";
import { isControlledBy, ownerIndexKey } from "../runtime/owners.ts";
import { NetworkPolicyResource, ServiceResource } from "../runtime/resources.ts";
import { AgentResource, KubeTaskConfigResource } from "../kinds.ts";
import {
  type KubeObject,
  OWNER_INDEX,
  type ReconcileContext,
  type Request,
  type Result,
} from "../runtime/types.ts";
import { KUBETASK_CONFIG_NAME } from "../task/names.ts";
import { effectiveEgressMode } from "./mode.ts";
import { type EgressObservation, planAgentEgress, refusedEgressPlan } from "./plan.ts";
import { type ResolvedService, resolveService } from "./policy.ts";
import { egressRuleField, withGatewayRule } from "./gateway.ts";
import type { GatewaySettings } from "../task/gateway.ts";
import { agentPodLabels, reopeningPolicies } from "./trap.ts";
import { isTaskGitPolicy } from "./git.ts";

/**
 * Services are read live, not watched: caching every Service of the cluster
 * for a few rules costs more than a read per reconcile. A Service whose
 * selector changes is therefore picked up on this period.
 */
export const SERVICE_RESYNC_MS = 5 * 60 * 1000;

export async function reconcileAgentEgress(
  req: Request,
  ctx: ReconcileContext,
  operatorDefault?: EgressMode,
  gateway?: GatewaySettings,
): Promise<Result> {
  const raw = ctx.cache.get(AgentResource, req.namespace, req.name);
  // Deleted: garbage collection removes its NetworkPolicy through the ownerReference.
  if (!raw || raw.metadata?.deletionTimestamp) return {};
  const primary = { type: AgentResource, object: raw };
  const obs = await observe(raw, req.namespace, ctx, operatorDefault, gateway);
  const now = ctx.now();
  const result = await applyPlan(
    ctx,
    primary,
    planAgentEgress(obs, now),
    (refusal) => refusedEgressPlan(obs, refusal, now),
  );
  const hasServices = obs.egress?.allow?.some((r) => r.service) ?? false;
  return obs.mode === "Restricted" && hasServices ? { requeueAfterMs: SERVICE_RESYNC_MS } : result;
}

async function observe(
  raw: KubeObject,
  namespace: string,
  ctx: ReconcileContext,
  operatorDefault?: EgressMode,
  gateway?: GatewaySettings,
): Promise<EgressObservation> {
  const config = ctx.cache.get(KubeTaskConfigResource, namespace, KUBETASK_CONFIG_NAME);
  const own = ctx.cache.byIndex(NetworkPolicyResource, OWNER_INDEX, ownerIndexKey(raw))
    .find((p) => isControlledBy(p, raw));
  const base = { raw, own, services: new Map(), problems: [], reopening: [] };
  const parsed = agentSpec.safeParse(raw.spec);
  if (!parsed.success) {
    const invalidSpec = describeIssues(parsed.error);
    return { ...base, mode: effectiveEgressMode(undefined, config, operatorDefault), invalidSpec };
  }
  // Through the gateway, the gateway is allowed (and it alone stands for the model API).
  const egress = withGatewayRule(parsed.data, gateway);
  const mode = effectiveEgressMode(parsed.data, config, operatorDefault);
  if (mode === "Unrestricted") return { ...base, egress, mode };
  const { services, problems } = await resolveServices(
    egress,
    namespace,
    ctx,
    (i) => egressRuleField(parsed.data, i),
  );
  // A Task's Git egress policy opens its own pod to its repositories only (git.ts).
  const others = ctx.cache.list(NetworkPolicyResource, namespace).filter((p) =>
    !isControlledBy(p, raw) && !isTaskGitPolicy(p)
  );
  const labels = agentPodLabels(raw.metadata?.uid ?? "", parsed.data.podSpec?.labels);
  return {
    ...base,
    egress,
    mode,
    services,
    problems,
    reopening: reopeningPolicies(others, labels),
  };
}

async function resolveServices(
  egress: AgentEgress | undefined,
  namespace: string,
  ctx: ReconcileContext,
  fieldOf: (index: number) => string,
): Promise<{ services: Map<number, ResolvedService>; problems: string[] }> {
  const services = new Map<number, ResolvedService>();
  const problems: string[] = [];
  for (const [i, rule] of (egress?.allow ?? []).entries()) {
    if (!rule.service) continue;
    const ns = rule.service.namespace ?? namespace;
    const field = `${fieldOf(i)}.service`;
    const svc = await ctx.live.get(ServiceResource, ns, rule.service.name);
    if (!svc) {
      problems.push(`${field}: Service ${ns}/${rule.service.name} not found`);
      continue;
    }
    const resolved = resolveService(svc);
    if ("problem" in resolved) {
      problems.push(`${field}: Service ${ns}/${rule.service.name} ${resolved.problem}`);
    } else services.set(i, resolved);
  }
  return { services, problems };
}
