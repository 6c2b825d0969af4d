// Deterministic names for the objects a Task owns. Being derived only from
// the Task name lets a restarted operator find (and adopt) what it created.

const MAX_LABEL_LENGTH = 63;

/** FNV-1a (32 bit) as 8 hex digits: short, stable, synchronous. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * `base + suffix` when it fits in 63 characters (a label value and DNS
 * label limit); otherwise a truncated base plus a hash of the full name, so
 * two long names sharing a prefix still differ.
 */
export function boundedName(base: string, suffix = ""): string {
  const full = base + suffix;
  if (full.length <= MAX_LABEL_LENGTH) return full;
  const hash = shortHash(full);
  const room = MAX_LABEL_LENGTH - suffix.length - hash.length - 1;
  // Label values must start and end alphanumeric; trim separators at the cut.
  const head = base.slice(0, room).replace(/[^a-z0-9]+$/i, "");
  return `${head}-${hash}${suffix}`;
}

/** Name of the Job that runs a Task. */
export function jobNameFor(taskName: string): string {
  return boundedName(taskName);
}

/** Name of the ConfigMap holding task.md and mounted context files. */
export function configMapNameFor(taskName: string): string {
  return boundedName(taskName, "-context");
}

/** Value of the `kubetask.io/task` label (label values are at most 63 chars). */
export function taskLabelValue(taskName: string): string {
  return boundedName(taskName);
}

export const TASK_LABEL = "kubetask.io/task";

/** The label the Job controller puts on a Job's pods: the uid of the Job that owns them. */
export const JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";

/**
 * The label selector for a Job's pods: by the Job's uid, not its name, so the
 * pods of an earlier Job of the same name (a Task deleted and created again,
 * its old pods still terminating) are never taken for this one's.
 */
export function jobPodsSelector(job: { metadata?: { uid?: string } }): string {
  return `${JOB_CONTROLLER_UID_LABEL}=${job.metadata?.uid ?? ""}`;
}

/** The key of task.md in a Task's ConfigMap, and its file name in the workspace. */
export const TASK_MD_KEY = "task.md";

/** The name of a namespace's KubeTaskConfig (TTL, retention, default egress mode). */
export const KUBETASK_CONFIG_NAME = "default";

/** The Agent a Task names, or the one it falls back to. */
export const DEFAULT_AGENT_NAME = "default";

/** The name of the Agent that runs a Task of this spec: its agentRef, else "default". */
export function agentNameOf(spec: { agentRef?: string } | undefined): string {
  return spec?.agentRef || DEFAULT_AGENT_NAME;
}
