// The kind registry: the eight kubetask.io kinds, each once. The CRD generator
// and our kinds' resource types (controllers/kinds.ts) both read it.
import {
  agent,
  context,
  contextGrant,
  cronTask,
  kubeTaskConfig,
  modelProvider,
  namespaceBudget,
  task,
} from "./v1alpha1/index.ts";
import type { KindDefinition } from "./crdgen/crd.ts";

export const KINDS: KindDefinition[] = [
  {
    kind: "Task",
    plural: "tasks",
    shortNames: ["tk"],
    description: "Task is one AI agent run, executed as a Kubernetes Job.",
    schema: task,
    hasStatus: true,
    columns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Agent", type: "string", jsonPath: ".spec.agentRef" },
      { name: "Job", type: "string", jsonPath: ".status.jobName" },
    ],
  },
  {
    kind: "CronTask",
    plural: "crontasks",
    shortNames: ["ctk"],
    description: "CronTask creates Tasks on a cron schedule, as a CronJob creates Jobs.",
    schema: cronTask,
    hasStatus: true,
    rules: [{
      rule: "self.metadata.name.size() <= 52",
      message: "CronTask names are at most 52 characters: each run is a Task named " +
        "<name>-<unix time> and labelled kubetask.io/crontask=<name>, which must fit in 63",
    }],
    columns: [
      { name: "Schedule", type: "string", jsonPath: ".spec.schedule" },
      { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend" },
      // JSONPath cannot count, so list the names of the running Tasks instead.
      {
        name: "Active",
        type: "string",
        jsonPath: ".status.active[*].name",
        description: "Tasks created by this CronTask that are still running.",
      },
      { name: "Last Schedule", type: "date", jsonPath: ".status.lastScheduleTime" },
    ],
  },
  {
    kind: "Agent",
    plural: "agents",
    shortNames: ["agt"],
    description: "Agent configures how Tasks run: image, command, credentials and pod settings.",
    schema: agent,
    hasStatus: true,
    columns: [
      { name: "Image", type: "string", jsonPath: ".spec.agentImage" },
      { name: "Egress", type: "string", jsonPath: ".status.egress.mode" },
    ],
  },
  {
    kind: "Context",
    plural: "contexts",
    shortNames: ["kctx"],
    description:
      "Context is reusable content for agents: inline text, a ConfigMap or a Git repository.",
    schema: context,
    hasStatus: false,
    columns: [{ name: "Type", type: "string", jsonPath: ".spec.type" }],
  },
  {
    kind: "ContextGrant",
    plural: "contextgrants",
    shortNames: ["kcg"],
    description: "ContextGrant lets Tasks and Agents of the namespaces it lists use Contexts " +
      "of its own namespace; without one, Contexts are private to their namespace.",
    schema: contextGrant,
    hasStatus: false,
    columns: [
      { name: "Namespaces", type: "string", jsonPath: ".spec.namespaces" },
      { name: "Contexts", type: "string", jsonPath: ".spec.contexts" },
    ],
  },
  {
    kind: "KubeTaskConfig",
    plural: "kubetaskconfigs",
    shortNames: ["ktc"],
    description: 'KubeTaskConfig holds namespace-level settings; the one named "default" applies.',
    schema: kubeTaskConfig,
    hasStatus: false,
    columns: [{
      name: "TTL",
      type: "integer",
      jsonPath: ".spec.taskLifecycle.ttlSecondsAfterFinished",
      description: "Seconds a finished Task is kept before deletion.",
    }],
  },
  {
    kind: "ModelProvider",
    plural: "modelproviders",
    shortNames: ["kmp"],
    description: "ModelProvider is a model API that Agents reach through the KubeTask model " +
      "gateway, which holds its key, meters every call and enforces budgets.",
    schema: modelProvider,
    hasStatus: false,
    scope: "Cluster",
    columns: [
      { name: "Protocol", type: "string", jsonPath: ".spec.protocol" },
      { name: "Upstream", type: "string", jsonPath: ".spec.upstreamURL" },
    ],
  },
  {
    kind: "NamespaceBudget",
    plural: "namespacebudgets",
    shortNames: ["knb"],
    description: "NamespaceBudget limits what the namespace it is named after may spend on " +
      "model calls through the KubeTask model gateway per UTC day and month. Cluster-scoped, " +
      "so only the platform sets it; its status is the gateway's durable spend count.",
    schema: namespaceBudget,
    hasStatus: true,
    scope: "Cluster",
    rules: [{
      rule: "self.metadata.name.size() <= 63 && " +
        "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
      message: "a NamespaceBudget is named after the namespace it limits: the name must be a " +
        "namespace name (lowercase letters, digits and '-', at most 63 characters)",
    }],
    columns: [
      { name: "Daily USD", type: "string", jsonPath: ".spec.daily.costUSD" },
      { name: "Spent Today", type: "string", jsonPath: ".status.daily.costUSD" },
      { name: "Monthly USD", type: "string", jsonPath: ".spec.monthly.costUSD" },
      { name: "Spent This Month", type: "string", jsonPath: ".status.monthly.costUSD" },
    ],
  },
];

/** A kind of the registry by name (throws for a kind that is not ours). */
export function kindDefinition(kind: string): KindDefinition {
  const def = KINDS.find((k) => k.kind === kind);
  if (!def) throw new Error(`${kind} is not a kubetask.io kind`);
  return def;
}
