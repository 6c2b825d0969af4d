// What an Agent may not do to the pod hardening: anything Pod Security
// "baseline" forbids among the fields an Agent reaches (its container
// securityContext, podSpec.securityContext and podSpec.annotations). Editing
// Agents in a namespace is creating pods there, but a cluster whose namespaces
// enforce nothing must not get privileged agents by accident: they run only
// when the operator is started with --allow-privileged-agents.
import {
  type Agent,
  APPARMOR_ANNOTATION_PREFIX,
  BASELINE_CAPABILITIES,
  BASELINE_SELINUX_TYPES,
  PRIVILEGED_OPT_IN,
  SAFE_SYSCTLS,
} from "../../api/v1alpha1/index.ts";
import type { Problem } from "./checks.ts";

const CAPABILITIES = new Set<string>(BASELINE_CAPABILITIES);
const SELINUX_TYPES = new Set<string>(["", ...BASELINE_SELINUX_TYPES]);
const SYSCTLS = new Set<string>(SAFE_SYSCTLS);

// deno-lint-ignore no-explicit-any
type Json = any;

/** Findings in a pod or container securityContext, as "field: why". */
function securityContextFindings(sc: Json, path: string, container: boolean): string[] {
  if (!sc || typeof sc !== "object") return [];
  const out: string[] = [];
  if (container && sc.privileged === true) out.push(`${path}.privileged: true`);
  if (container) {
    for (const [i, cap] of (sc.capabilities?.add ?? []).entries()) {
      const name = String(cap).replace(/^CAP_/, "");
      if (!CAPABILITIES.has(name)) {
        out.push(`${path}.capabilities.add[${i}]: ${JSON.stringify(cap)}`);
      }
    }
    if (sc.procMount !== undefined && sc.procMount !== "Default") {
      out.push(`${path}.procMount: ${JSON.stringify(sc.procMount)}`);
    }
  }
  for (const profile of ["seccompProfile", "appArmorProfile"]) {
    if (sc[profile]?.type === "Unconfined") out.push(`${path}.${profile}.type: "Unconfined"`);
  }
  const se = sc.seLinuxOptions;
  if (se && typeof se === "object") {
    if (!SELINUX_TYPES.has(se.type ?? "")) {
      out.push(`${path}.seLinuxOptions.type: ${JSON.stringify(se.type)}`);
    }
    for (const f of ["user", "role"]) {
      if (se[f]) out.push(`${path}.seLinuxOptions.${f}: ${JSON.stringify(se[f])}`);
    }
  }
  if (sc.windowsOptions?.hostProcess === true) {
    out.push(`${path}.windowsOptions.hostProcess: true`);
  }
  if (!container) {
    for (const [i, s] of (sc.sysctls ?? []).entries()) {
      if (!SYSCTLS.has(s?.name)) {
        out.push(`${path}.sysctls[${i}].name: ${JSON.stringify(s?.name)}`);
      }
    }
  }
  return out;
}

/** What in `agent` Pod Security baseline forbids, as "field: value". */
export function baselineFindings(agent: Agent): string[] {
  const findings = [
    ...securityContextFindings(agent.spec.securityContext, "spec.securityContext", true),
    ...securityContextFindings(
      agent.spec.podSpec?.securityContext,
      "spec.podSpec.securityContext",
      false,
    ),
  ];
  for (const [key, value] of Object.entries(agent.spec.podSpec?.annotations ?? {})) {
    if (
      key.startsWith(APPARMOR_ANNOTATION_PREFIX) && value !== "runtime/default" &&
      !value.startsWith("localhost/")
    ) {
      findings.push(`spec.podSpec.annotations["${key}"]: ${JSON.stringify(value)}`);
    }
  }
  return findings;
}

/** The Agent lowers the pod below baseline and the operator was not told to allow that. */
export function baselineProblem(agent: Agent, allowPrivileged: boolean): Problem | undefined {
  if (allowPrivileged) return undefined;
  const findings = baselineFindings(agent);
  if (findings.length === 0) return undefined;
  return {
    reason: "PrivilegedAgent",
    message: `Agent "${agent.metadata.name}" sets what Pod Security "baseline" forbids: ` +
      `${findings.join("; ")}. Remove it from the Agent; ${PRIVILEGED_OPT_IN}`,
  };
}
