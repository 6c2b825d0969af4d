// Whether a Task's agent has started, read from its Job's pod: the Task is
// Running only once the agent container (or a Git clone init container) runs;
// before that it is Pending with the reason that holds the pod. Pure: the pods
// come from the cache (the Task controller watches its Jobs' unfinished pods,
// trimmed by podForCache to the few status fields read here), or, for a Job
// that finished, from the live read of its pods.
import type { TaskStatus } from "../../api/v1alpha1/index.ts";
import type { CacheReader, KubeObject, Request } from "../runtime/types.ts";
import { controllerOf, isControlledBy } from "../runtime/owners.ts";
import { JobResource } from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import { AGENT_CONTAINER } from "./results.ts";
import { GIT_PROXY_CONTAINER } from "./git_proxy.ts";

/**
 * Server-side filter of the pod watch: a pod that finished is the Job's to
 * count (its report is read live, once); it leaves the cache, and a restart
 * lists only pods still starting or running.
 */
export const UNFINISHED_PODS_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed";

/** What keeps a pod from starting the agent, as the Task's condition reason says it. */
export type HoldReason =
  | "ImagePullBackOff"
  | "ErrImagePull"
  | "CreateContainerConfigError"
  | "Unschedulable"
  | "InitContainerFailed"
  | "PodPending";

/** Reasons worth a Warning Event: each needs someone to act (PodPending is ordinary startup). */
export const WARNING_HOLDS: readonly HoldReason[] = [
  "ImagePullBackOff",
  "ErrImagePull",
  "CreateContainerConfigError",
  "Unschedulable",
  "InitContainerFailed",
];

export type PodProgress =
  /** No pod of the Job is cached yet. */
  | { kind: "noPod" }
  /** The agent or a Git clone runs (or ran). */
  | { kind: "started" }
  | { kind: "held"; reason: HoldReason; message: string };

/** The kubelet's waiting reasons that name an image that will not pull. */
const IMAGE_REASONS: Record<string, HoldReason> = {
  ErrImagePull: "ErrImagePull",
  ImagePullBackOff: "ImagePullBackOff",
  InvalidImageName: "ErrImagePull",
  ErrImageNeverPull: "ErrImagePull",
};

const IMAGE_HOLDS: readonly HoldReason[] = ["ErrImagePull", "ImagePullBackOff"];

/** The waiting reasons of every start: not news. */
const ORDINARY_WAITING = ["ContainerCreating", "PodInitializing"];

/** How many characters of a failed clone's log its condition quotes. */
export const CLONE_LOG_CHARS = 512;
const MESSAGE_CHARS = 1024;

/** The newest pod of a Job that is not being deleted. */
function newestPod(pods: KubeObject[]): KubeObject | undefined {
  return pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) =>
      String(a.metadata?.creationTimestamp ?? "").localeCompare(
        String(b.metadata?.creationTimestamp ?? ""),
      )
    ).at(-1);
}

const cut = (text: string) =>
  text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS - 1)}…` : text;

/** The progress of a Job's agent from its pods. */
export function podProgress(pods: KubeObject[]): PodProgress {
  const pod = newestPod(pods);
  if (!pod) return { kind: "noPod" };
  const name = pod.metadata?.name ?? "";
  const inits: KubeObject[] = pod.status?.initContainerStatuses ?? [];
  const mains: KubeObject[] = pod.status?.containerStatuses ?? [];
  // A clone that failed ends the pod (restartPolicy Never): say how. The Git
  // proxy is a sidecar the kubelet stops when the agent ends (and restarts
  // when it fails): its exit is never the pod's.
  for (const c of inits) {
    if (c.name === GIT_PROXY_CONTAINER) continue;
    const t = c.state?.terminated;
    if (t && t.exitCode !== 0) {
      const log = String(t.message ?? "").trim();
      return {
        kind: "held",
        reason: "InitContainerFailed",
        message: cut(
          `pod "${name}": init container "${c.name}" exited with code ${t.exitCode}` +
            (t.reason ? ` (${t.reason})` : "") + (log ? `: ${log}` : ""),
        ),
      };
    }
  }
  // A container that cannot be created holds the pod even after a clone ran.
  for (const c of [...inits, ...mains]) {
    const waiting = c.state?.waiting;
    const image = IMAGE_REASONS[waiting?.reason ?? ""];
    if (image) {
      return {
        kind: "held",
        reason: image,
        message: cut(
          `pod "${name}": container "${c.name}" cannot pull image "${c.image ?? "?"}": ` +
            (waiting.message || waiting.reason),
        ),
      };
    }
    if (waiting?.reason === "CreateContainerConfigError") {
      // The kubelet's message names the Secret or ConfigMap and key it could not find.
      return {
        kind: "held",
        reason: "CreateContainerConfigError",
        message: cut(
          `pod "${name}": container "${c.name}" cannot be created: ${
            waiting.message || waiting.reason
          }`,
        ),
      };
    }
  }
  const agent = mains.find((c) => c.name === AGENT_CONTAINER);
  const ran = (c: KubeObject | undefined) => !!(c?.state?.running || c?.state?.terminated);
  if (ran(agent) || inits.some(ran)) return { kind: "started" };
  // A pod that finished without either container running (evicted, deadline): the Job says how.
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
    return { kind: "started" };
  }
  const scheduled = (pod.status?.conditions ?? []).find((c: KubeObject) =>
    c.type === "PodScheduled"
  );
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    return {
      kind: "held",
      reason: "Unschedulable",
      message: cut(`pod "${name}" cannot be scheduled: ${scheduled.message || "no node fits"}`),
    };
  }
  // Only an unusual waiting reason is said: the ordinary steps of a start
  // (scheduled, creating, initializing) would each change the message, and
  // each change is a status write.
  const waiting = [...inits, ...mains].map((c) => c.state?.waiting)
    .find((w) => w?.reason && !ORDINARY_WAITING.includes(w.reason));
  const detail = waiting
    ? `: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ""}`
    : "";
  return { kind: "held", reason: "PodPending", message: cut(`pod "${name}" is Pending${detail}`) };
}

/**
 * What the Task already shows, kept where the pods say nothing new. The
 * kubelet alternates ErrImagePull and ImagePullBackOff at every retry: one
 * image that keeps failing is one reason, so a Task keeps the one (and the
 * message) it already shows: no status write and no Event at each retry.
 */
export function steadyProgress(progress: PodProgress, status: TaskStatus | undefined): PodProgress {
  // A pod seen running that left the cache finished (the cache keeps unfinished pods only).
  if (progress.kind === "noPod" && status?.phase === "Running") return { kind: "started" };
  if (progress.kind !== "held" || !IMAGE_HOLDS.includes(progress.reason)) return progress;
  const shown = status?.conditions?.find((c) => c.type === "Succeeded");
  const reason = IMAGE_HOLDS.find((r) => r === shown?.reason);
  if (!reason || shown?.status !== "Unknown") return progress;
  return { kind: "held", reason, message: shown.message ?? progress.message };
}

/** Trimmed container statuses: name, image and state, a terminated clone's last log lines. */
function containerForCache(c: KubeObject, keepMessage: boolean): KubeObject {
  const { waiting, running, terminated } = c.state ?? {};
  const message = String(terminated?.message ?? "");
  const state = {
    ...(waiting ? { waiting: { reason: waiting.reason, message: waiting.message } } : {}),
    ...(running ? { running: { startedAt: running.startedAt } } : {}),
    ...(terminated
      ? {
        terminated: {
          exitCode: terminated.exitCode,
          reason: terminated.reason,
          finishedAt: terminated.finishedAt,
          ...(keepMessage && message ? { message: message.slice(-CLONE_LOG_CHARS) } : {}),
        },
      }
      : {}),
  };
  return { name: c.name, image: c.image, state };
}

/**
 * What the pod cache keeps: identity, owner, phase, scheduling and container
 * states. Not the spec, not the agent's termination message (its report, read
 * live once when the Job finishes): a failed clone's last log lines only.
 */
export function podForCache(pod: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp, deletionTimestamp } =
    pod.metadata ?? {};
  const status = pod.status ?? {};
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion,
      creationTimestamp,
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
      labels: pod.metadata?.labels,
      ownerReferences: pod.metadata?.ownerReferences,
    },
    status: {
      phase: status.phase,
      ...(status.startTime ? { startTime: status.startTime } : {}),
      conditions: (status.conditions ?? [])
        .filter((c: KubeObject) => c.type === "PodScheduled")
        .map((c: KubeObject) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
        })),
      initContainerStatuses: (status.initContainerStatuses ?? []).map((c: KubeObject) =>
        containerForCache(c, c.state?.terminated?.exitCode !== 0)
      ),
      containerStatuses: (status.containerStatuses ?? []).map((c: KubeObject) =>
        containerForCache(c, false)
      ),
    },
  };
}

/** A pod maps to the Task controlling the cached Job that controls the pod. */
export function mapPodToTask(pod: KubeObject, cache: CacheReader): Request[] {
  const namespace = pod.metadata?.namespace ?? "";
  const ref = controllerOf(pod, JobResource);
  const job = ref ? cache.get(JobResource, namespace, ref.name) : undefined;
  if (!job || !isControlledBy(pod, job)) return [];
  const task = controllerOf(job, TaskResource);
  return task ? [{ kind: "Task", namespace, name: task.name }] : [];
}
