// What an Agent's egress needs (pure): its NetworkPolicy created, brought up
// to date or deleted, and status.egress with two conditions.
//   EgressReady:    True when the mode is in force; False says which rule
//                   could not be expressed (the policy then leaves it out: closed).
//   EgressBypassed: True when another NetworkPolicy re-opens egress.
import type { AgentEgress, AgentStatus, EgressMode } from "../../api/v1alpha1/index.ts";
import { rfc3339, setCondition } from "../runtime/conditions.ts";
import { sameJson } from "../runtime/apply.ts";
import { emptyPlan, type Plan, type PlannedEvent, type Refusal } from "../runtime/apply.ts";
import { NetworkPolicyResource } from "../runtime/resources.ts";
import type { KubeObject } from "../runtime/types.ts";
import { buildNetworkPolicy, type ResolvedService } from "./policy.ts";

export const EGRESS_READY = "EgressReady";
export const EGRESS_BYPASSED = "EgressBypassed";

export interface EgressObservation {
  /** The Agent as cached (its resourceVersion guards the status write). */
  raw: KubeObject;
  egress?: AgentEgress;
  mode: EgressMode;
  /** The NetworkPolicy this Agent controls, if cached. */
  own?: KubeObject;
  /** Service rules resolved, by index in egress.allow. */
  services: Map<number, ResolvedService>;
  /** Rules that could not be resolved: a message naming the field. */
  problems: string[];
  /** Other NetworkPolicies that select the Agent's pods and allow egress. */
  reopening: string[];
  /** Why the spec does not parse, if it does not. */
  invalidSpec?: string;
}

type ConditionUpdate = { type: string; status: "True" | "False"; reason: string; message: string };

/** Applies the updates; Warning Events for those that changed to a bad state. */
function conditionsAndEvents(
  obs: EgressObservation,
  updates: ConditionUpdate[],
  drop: string[],
  now: Date,
): { conditions: AgentStatus["conditions"]; events: PlannedEvent[] } {
  const current = (obs.raw.status as AgentStatus | undefined)?.conditions ?? [];
  let conditions = current.filter((c) => !drop.includes(c.type));
  const events: PlannedEvent[] = [];
  const generation = obs.raw.metadata?.generation;
  for (const u of updates) {
    const before = current.find((c) => c.type === u.type);
    const changed = !before || before.status !== u.status || before.reason !== u.reason ||
      before.message !== u.message;
    const bad = (u.type === EGRESS_READY) === (u.status === "False");
    if (changed && bad) events.push({ type: "Warning", reason: u.reason, message: u.message });
    conditions = setCondition(conditions, {
      ...u,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    }, rfc3339(now));
  }
  return { conditions, events };
}

function statusOf(
  obs: EgressObservation,
  egress: AgentStatus["egress"],
  updates: ConditionUpdate[],
  drop: string[],
  now: Date,
): { status: AgentStatus; events: PlannedEvent[] } {
  const { conditions, events } = conditionsAndEvents(obs, updates, drop, now);
  const generation = obs.raw.metadata?.generation;
  return {
    status: {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      conditions,
      ...(egress ? { egress } : {}),
    },
    events,
  };
}

export function planAgentEgress(obs: EgressObservation, now: Date): Plan<AgentStatus> {
  const meta = obs.raw.metadata ?? {};
  const namespace = meta.namespace ?? "";
  const name = meta.name ?? "";
  const previous = (obs.raw.status as AgentStatus | undefined)?.egress;
  if (obs.invalidSpec) {
    // The policy is left as it is: an unreadable spec says nothing of what to allow.
    const { status, events } = statusOf(
      obs,
      previous,
      [{
        type: EGRESS_READY,
        status: "False",
        reason: "InvalidSpec",
        message: `invalid spec: ${obs.invalidSpec}`,
      }],
      [],
      now,
    );
    return emptyPlan({ status, events });
  }
  if (obs.mode === "Unrestricted") {
    const { status, events } = statusOf(
      obs,
      { mode: "Unrestricted" },
      [{
        type: EGRESS_READY,
        status: "True",
        reason: "Unrestricted",
        message: "spec.egress.mode is Unrestricted (or unset and the default): no NetworkPolicy " +
          "of the operator's restricts the agent pods",
      }],
      [EGRESS_BYPASSED],
      now,
    );
    const plan = emptyPlan<AgentStatus>({ status, events });
    if (obs.own) {
      plan.delete.push({
        type: NetworkPolicyResource,
        namespace,
        name: obs.own.metadata?.name ?? "",
        uid: obs.own.metadata?.uid,
        event: {
          type: "Normal",
          reason: "NetworkPolicyDeleted",
          message: `NetworkPolicy "${obs.own.metadata?.name}" deleted: egress is Unrestricted`,
        },
      });
    }
    return plan;
  }

  const desired = buildNetworkPolicy(namespace, name, meta.uid ?? "", obs.egress, obs.services);
  const policyName = desired.metadata?.name ?? "";
  const ready: ConditionUpdate = obs.problems.length
    ? {
      type: EGRESS_READY,
      status: "False",
      reason: "EgressRuleUnresolved",
      message: `${obs.problems.join("; ")}; NetworkPolicy "${policyName}" leaves ` +
        (obs.problems.length === 1 ? "that rule" : "those rules") + " out (denied)",
    }
    : {
      type: EGRESS_READY,
      status: "True",
      reason: "Restricted",
      message: `NetworkPolicy "${policyName}" allows the agent pods only what spec.egress.allow ` +
        "lists" + ((obs.egress?.dns ?? true) ? " and the cluster DNS" : ""),
    };
  const bypassed: ConditionUpdate = obs.reopening.length
    ? {
      type: EGRESS_BYPASSED,
      status: "True",
      reason: "AdditivePolicy",
      message: `NetworkPolicy ${
        obs.reopening.map((n) => `"${n}"`).join(", ")
      } in namespace ${namespace} also selects this Agent's pods and allows egress: ` +
        "NetworkPolicies add up, so the agent pods may connect wherever " +
        (obs.reopening.length === 1 ? "it allows" : "they allow") +
        ", beyond spec.egress.allow",
    }
    : {
      type: EGRESS_BYPASSED,
      status: "False",
      reason: "NoOtherPolicy",
      message: "no other NetworkPolicy in the namespace selects the agent pods and allows egress",
    };
  const { status, events } = statusOf(
    obs,
    { mode: "Restricted", networkPolicy: policyName },
    [ready, bypassed],
    [],
    now,
  );
  const plan = emptyPlan<AgentStatus>({ status, events });
  if (!obs.own) {
    plan.ensure.push({
      type: NetworkPolicyResource,
      object: desired,
      syncFields: ["spec"],
      createdEvent: {
        type: "Normal",
        reason: "NetworkPolicyCreated",
        message: `NetworkPolicy "${policyName}" created: egress is Restricted`,
      },
    });
  } else if (!sameJson(obs.own.spec, desired.spec)) {
    // A merge patch replaces lists whole; podSelector's one key never changes.
    plan.patch = [{
      type: NetworkPolicyResource,
      namespace,
      name: policyName,
      patch: { spec: desired.spec },
    }];
  }
  return plan;
}

/** The name is held by a NetworkPolicy this Agent does not control: say so, change nothing. */
export function refusedEgressPlan(
  obs: EgressObservation,
  refusal: Refusal,
  now: Date,
): Plan<AgentStatus> {
  const why = refusal.reason === "NameTaken"
    ? `a NetworkPolicy named "${refusal.name}" exists and is not this Agent's`
    : `the apiserver refused NetworkPolicy "${refusal.name}": ${refusal.message}`;
  const { status, events } = statusOf(
    obs,
    { mode: "Restricted" },
    [{
      type: EGRESS_READY,
      status: "False",
      reason: refusal.reason === "NameTaken" ? "NetworkPolicyNameTaken" : "NetworkPolicyRejected",
      message: `spec.egress.mode Restricted is not in force: ${why}`,
    }],
    [],
    now,
  );
  return emptyPlan({ status, events });
}
