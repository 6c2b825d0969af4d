// An identity of its own for an operator under measurement, and an apiserver
// audit log that records only that identity: the apiserver's own account of
// every request the operator sends (the benchmark counts them from it).
import { join } from "node:path";

export const OPERATOR_USER = "kubetask-operator";
/**
 * Not system:masters: that group always matches API Priority and Fairness's `exempt`
 * FlowSchema (and no other schema may take precedence over it), so an operator in it would never
 * be queued or refused like a real one. Its rights come from operatorBindingYaml instead.
 */
export const OPERATOR_GROUP = "kubetask:operators";

/** Token file line for the operator. */
export function operatorTokenLine(token: string): string {
  return `${token},${OPERATOR_USER},${OPERATOR_USER}-uid,"${OPERATOR_GROUP}"\n`;
}

/** cluster-admin for the operator's group (the same rights the admin has). */
export function operatorBindingYaml(): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubetask-operator-under-measurement
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: ${OPERATOR_GROUP}
`;
}

/**
 * Audit policy: Metadata for the operator's requests, nothing else. A watch
 * is logged when it starts (ResponseStarted); other requests when they end.
 */
export function auditPolicyYaml(): string {
  return `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["${OPERATOR_USER}"]
  - level: None
`;
}

export function auditLogPath(clusterDir: string): string {
  return join(clusterDir, "audit.log");
}

export interface AuditedRequest {
  verb: string;
  /** resource[/subresource]; for a request about no object (discovery), its path. */
  resource: string;
  code: number;
  /** A list's next page (its `continue` token): the same list, not another one. */
  nextPage?: true;
}

/** The operator's requests in an audit log (JSON lines), each counted once. */
export function auditedRequests(log: string): AuditedRequest[] {
  const out: AuditedRequest[] = [];
  for (const line of log.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    const isWatch = e.verb === "watch";
    // A watch ends only when it is closed: count it when it starts.
    if (e.stage !== (isWatch ? "ResponseStarted" : "ResponseComplete")) continue;
    const uri = String(e.requestURI ?? "");
    const resource = [e.objectRef?.resource, e.objectRef?.subresource].filter(Boolean).join("/") ||
      uri.split("?")[0];
    out.push({
      verb: e.verb,
      resource,
      code: e.responseStatus?.code ?? 0,
      ...(/[?&]continue=/.test(uri) ? { nextPage: true as const } : {}),
    });
  }
  return out;
}
