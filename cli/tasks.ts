// What the CLI reads about a Task: the Task itself, its agent pod, the
// agent's log, its Events; and how to say a phase and a result in a line.
import type { TaskStatus, TaskUsage } from "../api/v1alpha1/index.ts";
import { NotFoundError } from "../controllers/runtime/types.ts";
import { isFinishedPhase } from "../controllers/status.ts";
import { isControlledBy } from "../controllers/runtime/owners.ts";
import {
  ConfigMapResource,
  EventResource,
  JobResource,
  PodResource,
  resourcePath,
} from "../controllers/runtime/resources.ts";
import { TaskResource } from "../controllers/kinds.ts";
import type { KubeObject } from "../controllers/runtime/types.ts";
import { configMapNameFor, jobPodsSelector, TASK_MD_KEY } from "../controllers/task/names.ts";
import { AGENT_CONTAINER } from "../controllers/task/results.ts";
import { KUEUE_PRIORITY_LABEL, KUEUE_QUEUE_LABEL } from "../controllers/task/kueue.ts";
import type { Output } from "./output.ts";
import type { Session } from "./session.ts";

/** A Task that is missing is an error the user can act on. */
export class CommandError extends Error {}

export async function getTask(s: Session, name: string): Promise<KubeObject> {
  const task = await s.client.get(TaskResource, s.namespace, name);
  if (!task) {
    throw new CommandError(
      `Task "${name}" not found in namespace "${s.namespace}" (list them: kubectl kubetask list)`,
    );
  }
  return task;
}

export function condition(task: KubeObject, type: string): KubeObject | undefined {
  return (task.status?.conditions ?? []).find((c: KubeObject) => c.type === type);
}

/** Why a Task waits (Ready=False), or how it ended: the condition a phase line quotes. */
function phaseDetail(task: KubeObject): KubeObject | undefined {
  const phase = task.status?.phase ?? "Pending";
  const ready = condition(task, "Ready");
  const waiting = ready?.status === "False" && !isFinishedPhase(phase) ? ready : undefined;
  return waiting ?? (isFinishedPhase(phase) ? condition(task, "Succeeded") : undefined);
}

/** "Queued: Agent "claude" runs at most 2 ..." — the phase, and why it waits when it does. */
export function phaseLine(task: KubeObject): string {
  const phase = task.status?.phase ?? "Pending";
  const detail = phaseDetail(task);
  return detail?.message ? `${phase} (${detail.reason}): ${detail.message}` : phase;
}

/**
 * The newest pod of the Task's Job, if one exists. Its pods are selected by the
 * Job's uid, as the operator selects them (jobPodsSelector), so a namesake's
 * pods are never shown; the Job is read first for that uid.
 */
export async function agentPod(s: Session, task: KubeObject): Promise<KubeObject | undefined> {
  const jobName = task.status?.jobName;
  if (!jobName) return undefined;
  const job = await s.client.get(JobResource, s.namespace, jobName);
  if (!job || !isControlledBy(job, task)) return undefined;
  const pods = await s.client.list(PodResource, s.namespace, {
    labelSelector: jobPodsSelector(job),
  });
  return pods.sort((a, b) =>
    String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp))
  ).at(-1);
}

/** Whether the agent container has started (so it has a log to read). */
export function agentStarted(pod: KubeObject | undefined): boolean {
  const state = (pod?.status?.containerStatuses ?? [])
    .find((c: KubeObject) => c.name === AGENT_CONTAINER)?.state;
  return !!(state?.running || state?.terminated);
}

/** Writes the agent's log to `out`; with `follow`, until the container ends. */
export async function streamLog(
  s: Session,
  pod: KubeObject,
  follow: boolean,
  out: Output,
): Promise<void> {
  const path = `${resourcePath(PodResource, s.namespace, pod.metadata?.name ?? "")}/log`;
  const res = await s.transport.send("GET", path, {
    query: { container: AGENT_CONTAINER, follow: follow ? "true" : undefined },
  });
  if (res.status === 404) throw new NotFoundError(`pod ${pod.metadata?.name} not found`);
  if (res.status !== 200) {
    throw new CommandError(`cannot read the agent's log (HTTP ${res.status}): ${await res.text()}`);
  }
  const body = res.stream();
  if (body) await out.stream(body);
}

export async function taskEvents(s: Session, name: string): Promise<KubeObject[]> {
  const events = await s.client.list(EventResource, s.namespace);
  return events.filter((e) => e.involvedObject?.kind === "Task" && e.involvedObject?.name === name)
    .sort((a, b) =>
      String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime))
    );
}

/** The task.md the agent was given (the Task's generated ConfigMap). */
/**
 * The Kueue LocalQueue (and priority class) the Task's Job waits in or ran
 * from, read from the Job's labels; undefined for a Job Kueue does not manage.
 */
export async function kueueQueueLine(s: Session, task: KubeObject): Promise<string | undefined> {
  const jobName = task.status?.jobName;
  if (!jobName) return undefined;
  const labels = (await s.client.get(JobResource, s.namespace, jobName))?.metadata?.labels ?? {};
  const queue = labels[KUEUE_QUEUE_LABEL];
  if (!queue) return undefined;
  const priority = labels[KUEUE_PRIORITY_LABEL];
  return `${queue} (Kueue LocalQueue${priority ? `, priority class ${priority}` : ""})`;
}

/** "namespace/job" → the Kueue LocalQueue of every Job Kueue manages in `namespace` ("": all). */
export async function kueueQueues(s: Session, namespace: string): Promise<Map<string, string>> {
  const jobs = await s.client.list(JobResource, namespace, { labelSelector: KUEUE_QUEUE_LABEL });
  return new Map(
    jobs.map((j) => [
      `${j.metadata?.namespace}/${j.metadata?.name}`,
      j.metadata?.labels?.[KUEUE_QUEUE_LABEL] ?? "",
    ]),
  );
}

export async function taskMd(s: Session, name: string): Promise<string | undefined> {
  const cm = await s.client.get(ConfigMapResource, s.namespace, configMapNameFor(name));
  return cm?.data?.[TASK_MD_KEY];
}

/** "3m12s" */
export function duration(fromIso: string | undefined, toIso?: string): string {
  const from = Date.parse(fromIso ?? "");
  if (Number.isNaN(from)) return "";
  const to = toIso ? Date.parse(toIso) : Date.now();
  let s = Math.max(0, Math.round((to - from) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  return h ? `${h}h${m}m` : m ? `${m}m${s}s` : `${s}s`;
}

/**
 * A short result: an output named pr or url first, else the summary's first
 * line, else why the Task waits or how it failed; `shown` is how it will be printed (cut after, not inside, a sequence).
 */
export function shortResult(
  task: KubeObject,
  width = 60,
  shown: (text: string) => string = (text) => text,
): string {
  const outputs: Record<string, string> = task.status?.outputs ?? {};
  const first = outputs.pr ?? outputs.url ?? Object.values(outputs)[0];
  const reported = first ?? String(task.status?.summary ?? "").split("\n")[0];
  // Nothing reported: why it waits (ImagePullBackOff: ...) or how it failed, if said.
  const detail = phaseDetail(task);
  const why = detail && detail.reason !== "JobSucceeded"
    ? `${detail.reason}${detail.message ? `: ${detail.message}` : ""}`
    : "";
  const text = shown(reported || why);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** "1234/56": input and output tokens, as in the list's TOKENS column. */
export function tokensText(usage: TaskUsage | undefined): string {
  if (usage?.inputTokens === undefined && usage?.outputTokens === undefined) return "";
  return `${usage.inputTokens ?? "?"}/${usage.outputTokens ?? "?"}`;
}

/** The egress policy a Task's pod ran under, as `describe` shows it. */
export function egressLines(egress: TaskStatus["egress"]): string[] {
  if (!egress) return [];
  const lines = [
    `Egress:      ${egress.mode}${
      egress.networkPolicy ? ` (NetworkPolicy ${egress.networkPolicy})` : ""
    }`,
  ];
  const git = egress.git;
  if (git) {
    lines.push(
      `  Git hosts: ${git.networkPolicy ? `NetworkPolicy ${git.networkPolicy}` : "no policy"}`,
    );
    lines.push(...(git.allowed ?? []).map((a) => `    ${a}`), `    ${git.message}`);
  }
  return lines;
}

/** "1234 input + 56 output tokens, $0.0123, model claude-x" */
export function usageText(usage: TaskUsage): string {
  return [
    tokensText(usage) &&
    `${usage.inputTokens ?? "?"} input + ${usage.outputTokens ?? "?"} output tokens`,
    usage.costUSD && `$${usage.costUSD}`,
    usage.model && `model ${usage.model}`,
  ].filter(Boolean).join(", ");
}
