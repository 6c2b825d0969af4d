// Pure builders for what a Task runs as: the ConfigMap with task.md and the
// mounted context files, and the Job whose single pod runs the agent. The
// apply layer makes the Task their controller owner.
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1Job,
  V1KeyToPath,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  type Agent,
  AGENT_UID_LABEL,
  DEFAULT_AGENT_IMAGE,
  type EgressMode,
  type HumanInTheLoop,
  type Task,
  TASK_UID_LABEL,
} from "../../api/v1alpha1/index.ts";
import type { ResolvedContext } from "./contexts.ts";
import { DEFAULT_GIT_IMAGE, gitMountPlan } from "./git.ts";
import { configMapNameFor, jobNameFor, TASK_LABEL, TASK_MD_KEY, taskLabelValue } from "./names.ts";
import { humanInTheLoopCommand } from "./human_in_the_loop.ts";
import { HARDENED_SECURITY_CONTEXT } from "./security.ts";
import type { HostResolver } from "../egress/git.ts";
import { AGENT_CONTAINER } from "./results.ts";
import { TIMEOUT_ANNOTATION, timeoutSecondsOf } from "./timeout.ts";
import { STARTUP_TIMEOUT_ANNOTATION, startupTimeoutSecondsOf } from "./startup.ts";
import { type AppendedContext, buildTaskMd } from "./taskmd.ts";
import { gatewayConfigMapData, gatewayPodParts, type GatewaySettings } from "./gateway.ts";
import { kueueJobParts } from "./kueue.ts";
import { gitProxyPlan, type GitProxySettings } from "./git_proxy.ts";

/** What the operator's flags decide about the Jobs it builds. */
export interface JobSettings {
  /** Image of the init container that clones Git contexts. */
  gitImage: string;
  /**
   * The Git credential proxy sidecar for https Git contexts (git_proxy.ts);
   * the operator always sets it. Unset (some tests): the clone mounts the
   * Secret and the agent gets GIT_TOKEN in its environment, as before.
   */
  gitProxy?: GitProxySettings;
  /** "namespace/name" of the operator's ServiceAccount, which no Agent may use. */
  operatorServiceAccount?: string;
  /** Agents may set what Pod Security baseline forbids (baseline.ts); off unless asked for. */
  allowPrivilegedAgents?: boolean;
  /** Egress mode of Agents that set none and whose namespace's KubeTaskConfig sets none. */
  defaultEgress?: EgressMode;
  /** DNS for the hosts of a Restricted Agent's Git contexts (default: the system resolver). */
  resolveHost?: HostResolver;
  /** The model gateway, for Agents that name a modelProvider; unset: none is installed. */
  gateway?: GatewaySettings;
  /**
   * Kueue is installed: its Workloads are watched (their messages go into the
   * status of Tasks waiting for admission). Agents may set queueName without
   * it; their Tasks then say they wait without Kueue's words.
   */
  kueue?: boolean;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = { gitImage: DEFAULT_GIT_IMAGE };

const CONTEXT_VOLUME = "task-context";
const WORKSPACE_VOLUME = "workspace";

/** Task.spec.humanInTheLoop overrides the Agent's. */
export function effectiveHumanInTheLoop(task: Task, agent: Agent): HumanInTheLoop | undefined {
  return task.spec.humanInTheLoop ?? agent.spec.humanInTheLoop;
}

/** Why this Agent cannot run this Task, or undefined when it can. */
export function agentProblem(task: Task, agent: Agent): string | undefined {
  const hitl = effectiveHumanInTheLoop(task, agent);
  if (hitl?.enabled && !agent.spec.command?.length) {
    return `humanInTheLoop is enabled but Agent "${agent.metadata.name}" has no command to wrap`;
  }
  return undefined;
}

/** task.md and the mounted files: the ConfigMap's content and how its volume is laid out. */
export interface ContextVolumePlan {
  data: Record<string, string>;
  binaryData: Record<string, string>;
  items: V1KeyToPath[];
  mounts: V1VolumeMount[];
}

/**
 * Where each piece lives in the Task's ConfigMap and where it is mounted.
 * Keys are `context-<i>` (a file) or `context-<i>.<key>` (a directory entry);
 * the volume's items lay them out so subPath mounts land at the right paths.
 * The Task's ConfigMap and its Job share one such plan (task.md is built once).
 */
export function planContextVolume(
  task: Task,
  workspaceDir: string,
  contexts: ResolvedContext[],
): ContextVolumePlan {
  const appended = contexts.filter((c): c is { kind: "append" } & AppendedContext =>
    c.kind === "append"
  );
  const plan: ContextVolumePlan = {
    data: { [TASK_MD_KEY]: buildTaskMd(task.spec.description, appended) },
    binaryData: {},
    items: [{ key: TASK_MD_KEY, path: TASK_MD_KEY }],
    mounts: [{
      name: CONTEXT_VOLUME,
      mountPath: `${workspaceDir.replace(/\/+$/, "")}/${TASK_MD_KEY}`,
      subPath: TASK_MD_KEY,
    }],
  };
  contexts.forEach((ctx, i) => {
    const key = `context-${i}`;
    if (ctx.kind === "file") {
      if (ctx.text !== undefined) plan.data[key] = ctx.text;
      else plan.binaryData[key] = ctx.base64 ?? "";
      plan.items.push({ key, path: key });
      plan.mounts.push({ name: CONTEXT_VOLUME, mountPath: ctx.mountPath, subPath: key });
    } else if (ctx.kind === "directory") {
      const entries = [
        ...Object.entries(ctx.data).map(([k, v]) => ({ k, v, binary: false })),
        ...Object.entries(ctx.binaryData).map(([k, v]) => ({ k, v, binary: true })),
      ];
      for (const { k, v, binary } of entries) {
        (binary ? plan.binaryData : plan.data)[`${key}.${k}`] = v;
        plan.items.push({ key: `${key}.${k}`, path: `${key}/${k}` });
      }
      // An empty directory has no items, so there would be nothing to mount.
      if (entries.length > 0) {
        plan.mounts.push({ name: CONTEXT_VOLUME, mountPath: ctx.mountPath, subPath: key });
      }
    }
  });
  return plan;
}

/** ConfigMap owned by the Task: task.md, every mounted file context and the gateway's CA. */
export function buildContextConfigMap(
  task: Task,
  agent: Agent,
  contexts: ResolvedContext[],
  plan: ContextVolumePlan = planContextVolume(task, agent.spec.workspaceDir, contexts),
  settings: JobSettings = DEFAULT_JOB_SETTINGS,
): V1ConfigMap {
  const name = task.metadata.name ?? "";
  const gatewayData = gatewayConfigMapData(agent, settings.gateway);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: configMapNameFor(name),
      namespace: task.metadata.namespace,
      labels: { [TASK_LABEL]: taskLabelValue(name) },
    },
    // task.md is built once: the plan's data as it is, unless the gateway's CA joins it.
    data: Object.keys(gatewayData).length ? { ...plan.data, ...gatewayData } : plan.data,
    ...(Object.keys(plan.binaryData).length > 0 ? { binaryData: plan.binaryData } : {}),
  };
}

/** The agent container's credentials, but for those moved to the Git proxy (`moved`). */
function credentialsOf(
  agent: Agent,
  moved: ReadonlySet<number> = new Set(),
): { env: V1EnvVar[]; volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const out = { env: [] as V1EnvVar[], volumes: [] as V1Volume[], mounts: [] as V1VolumeMount[] };
  (agent.spec.credentials ?? []).forEach((cred, i) => {
    if (moved.has(i)) return;
    if (cred.env) {
      out.env.push({
        name: cred.env,
        valueFrom: { secretKeyRef: { name: cred.secretRef.name, key: cred.secretRef.key } },
      });
    }
    if (cred.mountPath) {
      const volume = `credential-${i}`;
      out.volumes.push({
        name: volume,
        secret: {
          secretName: cred.secretRef.name,
          items: [{ key: cred.secretRef.key, path: "value", mode: cred.fileMode }],
        },
      });
      out.mounts.push({
        name: volume,
        mountPath: cred.mountPath,
        subPath: "value",
        readOnly: true,
      });
    }
  });
  return out;
}

function commandOf(task: Task, agent: Agent): string[] | undefined {
  const command = agent.spec.command?.length ? agent.spec.command : undefined;
  const hitl = effectiveHumanInTheLoop(task, agent);
  if (command && hitl?.enabled) return humanInTheLoopCommand(command, hitl.keepAliveSeconds);
  return command;
}

/** The Job running `agent` for `task`; call agentProblem first. */
export function buildAgentJob(
  task: Task,
  agent: Agent,
  contexts: ResolvedContext[],
  settings: JobSettings = DEFAULT_JOB_SETTINGS,
  plan: ContextVolumePlan = planContextVolume(task, agent.spec.workspaceDir, contexts),
): V1Job {
  const name = task.metadata.name ?? "";
  const namespace = task.metadata.namespace ?? "";
  const workspaceDir = agent.spec.workspaceDir;
  const proxy = gitProxyPlan(agent, contexts, settings.gitProxy);
  const creds = credentialsOf(agent, proxy?.movedCredentials);
  const gateway = gatewayPodParts(agent, configMapNameFor(name), settings.gateway);
  const timeout = timeoutSecondsOf(task, agent);
  const git = contexts.flatMap((ctx, i) =>
    ctx.kind === "git"
      ? [
        gitMountPlan(
          i,
          ctx.git,
          ctx.mountPath,
          settings.gitImage,
          proxy?.proxied.has(i) ? proxy.env : undefined,
        ),
      ]
      : []
  );
  const initContainers = [
    ...(proxy ? [proxy.sidecar] : []),
    ...git.map((g) => g.initContainer),
  ];
  const command = commandOf(task, agent);
  const scheduling = agent.spec.podSpec?.scheduling;
  const labels = { [TASK_LABEL]: taskLabelValue(name) };
  const kueue = kueueJobParts(agent);

  const container: V1Container = {
    name: AGENT_CONTAINER,
    image: agent.spec.agentImage || DEFAULT_AGENT_IMAGE,
    ...(command ? { command } : {}),
    securityContext: { ...HARDENED_SECURITY_CONTEXT, ...agent.spec.securityContext },
    // The agent's report (results.ts); a failing agent that wrote none leaves its log's end.
    terminationMessagePolicy: "FallbackToLogsOnError",
    ...(agent.spec.resources ? { resources: agent.spec.resources } : {}),
    workingDir: workspaceDir,
    env: [
      { name: "TASK_NAME", value: name },
      { name: "TASK_NAMESPACE", value: namespace },
      // Where task.md is, for entrypoints that do not rely on the working directory.
      { name: "WORKSPACE_DIR", value: workspaceDir },
      ...gateway.env,
      ...creds.env,
      // Last: git in the agent reaches the https Contexts' repositories through the proxy.
      ...(proxy?.env ?? []),
    ],
    volumeMounts: [
      { name: WORKSPACE_VOLUME, mountPath: workspaceDir },
      ...plan.mounts,
      ...git.map((g) => g.mount),
      ...creds.mounts,
      ...gateway.mounts,
    ],
  };

  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobNameFor(name),
      namespace,
      labels: { ...labels, ...kueue.labels },
      annotations: {
        ...(timeout ? { [TIMEOUT_ANNOTATION]: String(timeout) } : {}),
        [STARTUP_TIMEOUT_ANNOTATION]: String(startupTimeoutSecondsOf(task, agent)),
      },
    },
    spec: {
      backoffLimit: 0,
      ...(kueue.suspend ? { suspend: true } : {}),
      template: {
        // Our labels go last so an Agent cannot hide which Task a pod runs,
        // nor take on another Agent's egress policy (podLabels).
        metadata: {
          labels: podLabels(agent, {
            ...labels,
            ...(task.metadata.uid ? { [TASK_UID_LABEL]: task.metadata.uid } : {}),
          }),
          ...(agent.spec.podSpec?.annotations
            ? { annotations: agent.spec.podSpec.annotations }
            : {}),
        },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: agent.spec.serviceAccountName,
          ...(agent.spec.podSpec?.securityContext
            ? { securityContext: agent.spec.podSpec.securityContext }
            : {}),
          ...(agent.spec.podSpec?.automountServiceAccountToken !== undefined
            ? { automountServiceAccountToken: agent.spec.podSpec.automountServiceAccountToken }
            : {}),
          ...(scheduling?.nodeSelector ? { nodeSelector: scheduling.nodeSelector } : {}),
          // deno-lint-ignore no-explicit-any
          ...(scheduling?.tolerations ? { tolerations: scheduling.tolerations as any[] } : {}),
          ...(scheduling?.affinity ? { affinity: scheduling.affinity } : {}),
          ...(agent.spec.podSpec?.runtimeClassName
            ? { runtimeClassName: agent.spec.podSpec.runtimeClassName }
            : {}),
          ...(initContainers.length > 0 ? { initContainers } : {}),
          containers: [container],
          volumes: [
            { name: WORKSPACE_VOLUME, emptyDir: {} },
            {
              name: CONTEXT_VOLUME,
              configMap: { name: configMapNameFor(name), items: plan.items },
            },
            ...git.flatMap((g) => g.volumes),
            ...(proxy?.volumes ?? []),
            ...creds.volumes,
            ...gateway.volumes,
          ],
        },
      },
    },
  };
}

/**
 * The agent pod's labels: the Agent's own, then ours. The Agent's uid label is
 * always the operator's (or absent, for the built-in Agent): egress
 * NetworkPolicies select pods by it, so a value from podSpec.labels (a CRD
 * installed without its rule) is dropped, never kept.
 */
export function podLabels(agent: Agent, ours: Record<string, string>): Record<string, string> {
  const own = Object.entries(agent.spec.podSpec?.labels ?? {})
    .filter(([key]) => key !== AGENT_UID_LABEL && key !== TASK_UID_LABEL);
  const uid = agent.metadata.uid;
  return { ...Object.fromEntries(own), ...ours, ...(uid ? { [AGENT_UID_LABEL]: uid } : {}) };
}
