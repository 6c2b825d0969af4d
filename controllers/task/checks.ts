// Checks on what a Task would run, made before anything is created, so that
// input the apiserver (or the kubelet) would refuse becomes a Failed Task with
// a condition naming the culprit instead of a create retried forever.
import { posix } from "node:path";
import type { Agent, Task } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { absoluteMountPath, type ResolvedContext } from "./contexts.ts";
import { TASK_MD_KEY } from "./names.ts";

/** A ConfigMap holds at most 1 MiB in total; keep room for its metadata. */
export const MAX_CONFIGMAP_DATA_BYTES = 1024 * 1024 - 16 * 1024;

export interface Problem {
  reason: string;
  message: string;
}

/** Two things mounted at one path: the second would hide the first. */
export function mountPathProblem(agent: Agent, contexts: ResolvedContext[]): Problem | undefined {
  const workspace = agent.spec.workspaceDir;
  const mounts: { path: string; what: string }[] = [
    { path: workspace, what: "the workspace (workspaceDir)" },
    { path: absoluteMountPath(TASK_MD_KEY, workspace), what: TASK_MD_KEY },
  ];
  for (const c of contexts) {
    if (c.kind !== "append") {
      mounts.push({ path: c.mountPath, what: `Context "${c.namespace}/${c.name}"` });
    }
  }
  for (const cred of agent.spec.credentials ?? []) {
    if (cred.mountPath) mounts.push({ path: cred.mountPath, what: `credential "${cred.name}"` });
  }
  const seen = new Map<string, string>();
  for (const { path, what } of mounts) {
    const key = normalized(path);
    const first = seen.get(key);
    if (first) {
      return {
        reason: "MountPathConflict",
        message: `${first} and ${what} are both mounted at ${key}; give one another mountPath`,
      };
    }
    seen.set(key, what);
  }
  return undefined;
}

/** A path without "." or ".." segments, repeated or trailing slashes. */
function normalized(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, "$1");
}

/**
 * A Task's own contexts mount under its Agent's workspaceDir or one of the
 * Agent's allowedMountPrefixes: elsewhere a submitter could replace the
 * agent's binary, its settings (which may run commands) or its credential
 * files. The Agent's own contexts and credentials may use any path.
 */
export function taskMountProblem(task: Task, agent: Agent): Problem | undefined {
  const workspace = agent.spec.workspaceDir;
  const prefixes = [workspace, ...agent.spec.allowedMountPrefixes ?? []].map(normalized);
  const under = (path: string) =>
    prefixes.some((p) => path === p || path.startsWith(p === "/" ? p : `${p}/`));
  for (const [i, c] of (task.spec.contexts ?? []).entries()) {
    if (!c.mountPath) continue;
    const path = absoluteMountPath(c.mountPath, workspace);
    if (path.split("/").includes("..") || !under(normalized(path))) {
      return {
        reason: "MountPathNotAllowed",
        message: `spec.contexts[${i}].mountPath "${c.mountPath}" is outside what Agent ` +
          `"${agent.metadata.name}" allows Tasks to mount (${prefixes.join(", ")}): mount it ` +
          `under "${prefixes[0]}/", or ask the Agent's admin to add a prefix to ` +
          "spec.allowedMountPrefixes",
      };
    }
  }
  return undefined;
}

/** Bytes the apiserver counts for a ConfigMap's data and binaryData. */
export function configMapDataBytes(cm: KubeObject): number {
  let bytes = 0;
  const encoder = new TextEncoder();
  for (const [k, v] of Object.entries<string>(cm.data ?? {})) {
    bytes += k.length + encoder.encode(v).length;
  }
  for (const [k, v] of Object.entries<string>(cm.binaryData ?? {})) {
    bytes += k.length + Math.floor((v.length * 3) / 4);
  }
  return bytes;
}

/** task.md and the mounted files must fit in the Task's ConfigMap. */
export function sizeProblem(configMap: KubeObject): Problem | undefined {
  const bytes = configMapDataBytes(configMap);
  if (bytes <= MAX_CONFIGMAP_DATA_BYTES) return undefined;
  return {
    reason: "ContextTooLarge",
    message: `task.md and the mounted context files come to ${bytes} bytes; at most ` +
      `${MAX_CONFIGMAP_DATA_BYTES} fit in the Task's ConfigMap: mount large content from a ` +
      "Git context instead",
  };
}

/**
 * An Agent may not run pods as the operator's own ServiceAccount
 * ("namespace/name"): whoever may create Agents there would gain the
 * operator's cluster-wide permissions through the agent pod.
 */
export function serviceAccountProblem(
  agent: Agent,
  operatorServiceAccount: string | undefined,
): Problem | undefined {
  const used = `${agent.metadata.namespace ?? ""}/${agent.spec.serviceAccountName}`;
  if (!operatorServiceAccount || used !== operatorServiceAccount) return undefined;
  return {
    reason: "InvalidAgent",
    message: `Agent "${agent.metadata.name}" uses serviceAccountName ` +
      `"${agent.spec.serviceAccountName}", the operator's own ServiceAccount; ` +
      "give agents a ServiceAccount of their own",
  };
}
