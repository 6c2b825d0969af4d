// Agent: how a Task runs (image, command, credentials, pod settings).
import { z } from "zod";
import {
  condition,
  contextMount,
  humanInTheLoop,
  MAX_KEEP_ALIVE_SECONDS,
  objectMeta,
} from "./common.ts";
import { AGENT_UID_LABEL, agentEgress, egressMode, TASK_UID_LABEL } from "./egress.ts";
import { budget } from "./budget.ts";
import {
  absolutePath,
  celRules,
  dataKey,
  duration,
  envVarName,
  labelName,
  MAX_CONTEXTS,
  MAX_CREDENTIALS,
  objectName,
} from "./validation.ts";

export const DEFAULT_AGENT_IMAGE = "quay.io/kubetask/kubetask-agent-gemini:latest";

/** How long a Task's pod may take to start when neither its Agent nor the Task says. */
export const DEFAULT_STARTUP_TIMEOUT = "10m";

export const secretKeyRef = z.object({
  name: objectName("secretRef.name").describe("Secret name."),
  key: dataKey("secretRef.key").describe("Key in the Secret."),
});

export const credential = z.object({
  name: z.string().min(1).describe("Name of the credential (for humans and volume names)."),
  secretRef: secretKeyRef,
  env: envVarName("env").optional().describe(
    "Expose the secret value as this environment variable.",
  ),
  mountPath: absolutePath("mountPath").optional().describe(
    "Mount the secret value as a file at this absolute path.",
  ),
  fileMode: z.int32().min(0).max(0o777).default(0o600).describe(
    "File permission bits when mounted, 0 to 0777 (default 0600); octal 0400 in YAML is 256 in JSON.",
  ),
}).meta(celRules({
  rule: "has(self.env) != has(self.mountPath)",
  message: "a credential must set exactly one of env (environment variable) or mountPath (file)",
}));
export type Credential = z.infer<typeof credential>;

// Scheduling fields are core/v1 types; the apiserver validates them in the Job.
const looseObject = z.looseObject({});

export const podScheduling = z.object({
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(looseObject).optional(),
  affinity: looseObject.optional(),
});

export const agentPodSpec = z.object({
  labels: z.record(z.string(), z.string()).optional().describe(
    `Extra labels for the agent pod (not ${AGENT_UID_LABEL} nor ${TASK_UID_LABEL}: egress ` +
      "policies select by them).",
  ).meta(celRules({
    // The operator sets it on its own pods; a pod carrying another Agent's uid
    // would take on that Agent's egress policy.
    rule: `!('${AGENT_UID_LABEL}' in self)`,
    message: `podSpec.labels must not set ${AGENT_UID_LABEL}: the operator sets it on agent ` +
      "pods and egress NetworkPolicies select by it",
  }, {
    // Likewise a Task's uid: its Git egress NetworkPolicy selects by it.
    rule: `!('${TASK_UID_LABEL}' in self)`,
    message: `podSpec.labels must not set ${TASK_UID_LABEL}: the operator sets it on agent ` +
      "pods and a Task's Git egress NetworkPolicy selects by it",
  })),
  annotations: z.record(z.string(), z.string()).optional().describe(
    "Extra annotations for the agent pod.",
  ),
  scheduling: podScheduling.optional(),
  runtimeClassName: z.string().optional().describe("RuntimeClass for isolation (gVisor, Kata)."),
  securityContext: looseObject.optional().describe(
    "Pod-level securityContext (core/v1 PodSecurityContext), e.g. runAsNonRoot, runAsUser, fsGroup.",
  ),
  automountServiceAccountToken: z.boolean().optional().describe(
    "Whether the agent pod gets its ServiceAccount's token (Kubernetes default: true).",
  ),
});
export type AgentPodSpec = z.infer<typeof agentPodSpec>;

export const agentSpec = z.object({
  agentImage: z.string().optional().describe(`Agent image (default ${DEFAULT_AGENT_IMAGE}).`),
  workspaceDir: absolutePath("workspaceDir").default("/workspace").describe(
    "Working directory holding task.md.",
  ),
  command: z.array(z.string()).optional().describe(
    "Entrypoint command (required for humanInTheLoop).",
  ),
  humanInTheLoop: humanInTheLoop.optional(),
  maxConcurrentTasks: z.int32().min(0).optional().describe(
    "Most Tasks running with this Agent at once (unset or 0: no limit). Others wait in phase " +
      "Queued and start in creation order as running ones finish.",
  ),
  queueName: labelName("queueName", "a Kueue LocalQueue name").optional().describe(
    "A Kueue LocalQueue of the Task's namespace: the Task's Job is created suspended with the " +
      "label kueue.x-k8s.io/queue-name and Kueue decides when it starts (after " +
      "maxConcurrentTasks, which still applies first). While Kueue has not admitted it the " +
      "Task is Queued with reason KueueAdmissionPending.",
  ),
  priorityClassName: labelName("priorityClassName", "a Kueue WorkloadPriorityClass name")
    .optional().describe(
      "A Kueue WorkloadPriorityClass for this Agent's Jobs (label " +
        "kueue.x-k8s.io/priority-class); needs queueName.",
    ),
  timeout: duration("timeout").optional().describe(
    'Default longest run for Tasks using this Agent, e.g. "1h"; a Task\'s own timeout wins.',
  ),
  maxTimeout: duration("maxTimeout").optional().describe(
    'Longest timeout a Task using this Agent may ask for, e.g. "4h": a Task asking for more ' +
      "fails with reason AgentLimitExceeded. Also the timeout of a Task that sets none when " +
      "the Agent sets no timeout either.",
  ),
  startupTimeout: duration("startupTimeout").optional().describe(
    'Longest a Task\'s pod may take to start its agent (or its Git clone), e.g. "5m"; default ' +
      `${DEFAULT_STARTUP_TIMEOUT}. Counted from when its Job is created (time Queued does not ` +
      "count). Past it a Task still Pending on its pod (an image that does not pull, a missing " +
      "Secret, no node that fits) fails with the reason that held it. A Task may set a shorter one.",
  ),
  maxKeepAliveSeconds: z.int32().min(0).max(MAX_KEEP_ALIVE_SECONDS).optional().describe(
    "Most humanInTheLoop.keepAliveSeconds a Task using this Agent may ask for: a Task asking " +
      "for more fails with reason AgentLimitExceeded.",
  ),
  contexts: z.array(contextMount).max(MAX_CONTEXTS).optional().describe(
    "Contexts applied to every Task using this Agent.",
  ),
  allowedMountPrefixes: z.array(absolutePath("allowedMountPrefixes[]")).max(MAX_CONTEXTS)
    .optional().describe(
      "Directories besides workspaceDir under which a Task's own contexts may be mounted. A " +
        "Task's mount elsewhere is refused (it could replace the agent's binary, settings or " +
        "credential files); the Agent's own contexts and credentials may use any path.",
    ),
  credentials: z.array(credential).max(MAX_CREDENTIALS).optional().describe(
    "Secrets exposed to the agent (at most 32); names must be unique.",
  ).meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
  podSpec: agentPodSpec.optional(),
  securityContext: looseObject.optional().describe(
    "The agent container's securityContext, merged over the hardened default " +
      "(allowPrivilegeEscalation false, all capabilities dropped, seccomp RuntimeDefault).",
  ),
  resources: looseObject.optional().describe(
    "The agent container's requests and limits (core/v1 ResourceRequirements).",
  ),
  serviceAccountName: objectName("serviceAccountName").describe("ServiceAccount for agent pods."),
  egress: agentEgress.optional().describe(
    "Where the agent pods may connect (enforced by the cluster's NetworkPolicy engine).",
  ),
  modelProvider: objectName("modelProvider").optional().describe(
    "A ModelProvider (cluster-scoped) whose API the agent reaches through the KubeTask model " +
      "gateway: the pod gets a short-lived token for the gateway instead of a provider key, " +
      "and the gateway meters every call, enforces budgets and keeps a transcript.",
  ),
  budget: budget.optional().describe(
    "Default budget of Tasks using this Agent that set none (needs modelProvider).",
  ),
  maxBudget: budget.optional().describe(
    "Largest budget a Task using this Agent may ask for: a Task asking for more (or, with " +
      "no default budget, for none) fails with reason AgentLimitExceeded.",
  ),
}).meta(celRules({
  rule: "has(self.queueName) || !has(self.priorityClassName)",
  message: "priorityClassName needs queueName: only Kueue reads the priority class",
  fieldPath: ".queueName",
  reason: "FieldValueRequired",
}, {
  rule:
    "!has(self.humanInTheLoop) || !self.humanInTheLoop.enabled || (has(self.command) && size(self.command) > 0)",
  message:
    "humanInTheLoop.enabled requires command: the controller wraps command to keep the container alive",
  fieldPath: ".command",
  reason: "FieldValueRequired",
}, {
  rule: "has(self.modelProvider) || (!has(self.budget) && !has(self.maxBudget))",
  message: "budget and maxBudget need modelProvider: only calls through the model gateway " +
    "are metered",
  fieldPath: ".modelProvider",
  reason: "FieldValueRequired",
}));
export type AgentSpec = z.infer<typeof agentSpec>;

export const agentEgressStatus = z.object({
  mode: egressMode.describe("The mode in force (the Agent's, or the default it got)."),
  networkPolicy: z.string().optional().describe(
    "The NetworkPolicy the operator owns for a Restricted Agent, in the Agent's namespace.",
  ),
});

export const agentStatus = z.object({
  observedGeneration: z.number().int().optional(),
  conditions: z.array(condition).optional(),
  egress: agentEgressStatus.optional(),
});
export type AgentStatus = z.infer<typeof agentStatus>;

export const agent = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: agentSpec,
  status: agentStatus.optional(),
});
export type Agent = z.infer<typeof agent>;
