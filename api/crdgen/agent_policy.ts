// The admission policy that refuses, at `kubectl apply`, Agents that would
// take their pods below Pod Security "baseline": the CEL side of the check the
// controller makes (controllers/task/baseline.ts), from the same lists. A CRD
// rule could not be lifted by the operator's --allow-privileged-agents; a
// separate policy can: the Helm chart leaves it out when allowPrivilegedAgents
// is set.
import {
  APPARMOR_ANNOTATION_PREFIX,
  BASELINE_CAPABILITIES,
  BASELINE_SELINUX_TYPES,
  GROUP,
  SAFE_SYSCTLS,
} from "../v1alpha1/index.ts";

export const AGENT_POLICY_NAME = "kubetask-agent-baseline";

const OPT_IN = "a cluster that wants privileged agents installs KubeTask with " +
  "allowPrivilegedAgents (the operator's --allow-privileged-agents, without this policy)";

const list = (items: readonly string[]) => `[${items.map((i) => `'${i}'`).join(", ")}]`;

/** `expr` holds wherever every field on `path` (under object.spec) is set. */
function whereSet(path: string[], expr: string): string {
  const guards = path.map((_, i) => `!has(object.spec.${path.slice(0, i + 1).join(".")})`);
  return [...guards, expr].join(" || ");
}

interface Check {
  path: string[];
  expr: (at: string) => string;
  message: string;
}

function securityContextChecks(base: string[], container: boolean): Check[] {
  const f = base.join(".");
  const checks: Check[] = [
    {
      path: [...base, "seccompProfile", "type"],
      expr: (at) => `${at} != 'Unconfined'`,
      message: `spec.${f}.seccompProfile.type may not be Unconfined`,
    },
    {
      path: [...base, "appArmorProfile", "type"],
      expr: (at) => `${at} != 'Unconfined'`,
      message: `spec.${f}.appArmorProfile.type may not be Unconfined`,
    },
    {
      path: [...base, "seLinuxOptions", "type"],
      expr: (at) => `${at} == '' || ${at} in ${list(BASELINE_SELINUX_TYPES)}`,
      message: `spec.${f}.seLinuxOptions.type may only be one of ${
        BASELINE_SELINUX_TYPES.join(", ")
      }`,
    },
    {
      path: [...base, "seLinuxOptions", "user"],
      expr: (at) => `${at} == ''`,
      message: `spec.${f}.seLinuxOptions.user may not be set`,
    },
    {
      path: [...base, "seLinuxOptions", "role"],
      expr: (at) => `${at} == ''`,
      message: `spec.${f}.seLinuxOptions.role may not be set`,
    },
    {
      path: [...base, "windowsOptions", "hostProcess"],
      expr: (at) => `${at} != true`,
      message: `spec.${f}.windowsOptions.hostProcess may not be true`,
    },
  ];
  if (container) {
    checks.unshift(
      {
        path: [...base, "privileged"],
        expr: (at) => `${at} != true`,
        message: `spec.${f}.privileged may not be true`,
      },
      {
        path: [...base, "capabilities", "add"],
        expr: (at) =>
          `${at}.all(c, c in ${list(BASELINE_CAPABILITIES)} || ` +
          `(c.startsWith('CAP_') && c.substring(4) in ${list(BASELINE_CAPABILITIES)}))`,
        message: `spec.${f}.capabilities.add may only add ${BASELINE_CAPABILITIES.join(", ")}`,
      },
      {
        path: [...base, "procMount"],
        expr: (at) => `${at} == 'Default'`,
        message: `spec.${f}.procMount may only be Default`,
      },
    );
  } else {
    checks.push({
      path: [...base, "sysctls"],
      expr: (at) => `${at}.all(s, has(s.name) && s.name in ${list(SAFE_SYSCTLS)})`,
      message: `spec.${f}.sysctls may only set ${SAFE_SYSCTLS.join(", ")}`,
    });
  }
  return checks;
}

const CHECKS: Check[] = [
  ...securityContextChecks(["securityContext"], true),
  ...securityContextChecks(["podSpec", "securityContext"], false),
  {
    path: ["podSpec", "annotations"],
    expr: (at) =>
      `${at}.all(k, !k.startsWith('${APPARMOR_ANNOTATION_PREFIX}') || ` +
      `${at}[k] == 'runtime/default' || ${at}[k].startsWith('localhost/'))`,
    message: `spec.podSpec.annotations ${APPARMOR_ANNOTATION_PREFIX}* may only be ` +
      "runtime/default or localhost/<profile>",
  },
];

/**
 * The ValidatingAdmissionPolicy and its binding, both called `name` (the chart passes a template
 * that names them per install).
 */
export function buildAgentPolicy(name = AGENT_POLICY_NAME): Record<string, unknown>[] {
  const metadata = {
    name,
    labels: { "app.kubernetes.io/name": "kubetask" },
  };
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata,
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [{
            apiGroups: [GROUP],
            apiVersions: ["*"],
            operations: ["CREATE", "UPDATE"],
            resources: ["agents"],
          }],
        },
        validations: CHECKS.map((c) => ({
          expression: whereSet(c.path, c.expr(`object.spec.${c.path.join(".")}`)),
          message: `${c.message} (Pod Security baseline); ${OPT_IN}`,
          reason: "Invalid",
        })),
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata,
      spec: { policyName: name, validationActions: ["Deny"] },
    },
  ];
}
