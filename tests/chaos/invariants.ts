// The chaos invariants as pure functions over what the apiserver lists, so
// each is unit-tested on hand-made objects (tests/unit/chaos/) and none relies
// on what the operator reports about itself.
import type { KubeObject } from "../../controllers/runtime/types.ts";
import { ownership } from "../bench/e2e/ownership.ts";

const CRONTASK_LABEL = "kubetask.io/crontask";
const SCHEDULED_AT = "kubetask.io/scheduled-at";

const conditionTrue = (o: KubeObject, type: string) =>
  (o.status?.conditions ?? []).some((c: KubeObject) => c.type === type && c.status === "True");

/** A Job that may still run a pod: not Complete, not Failed, not suspended. */
export function isUnfinishedJob(job: KubeObject): boolean {
  return !conditionTrue(job, "Complete") && !conditionTrue(job, "Failed") &&
    job.spec?.suspend !== true;
}

const isTerminal = (t: KubeObject) =>
  t.status?.phase === "Completed" || t.status?.phase === "Failed";

/** Tasks by uid, without those being deleted (their slot is released by design). */
function liveTasksByUid(tasks: KubeObject[]): Map<string, KubeObject> {
  return new Map(
    tasks.filter((t) => !t.metadata?.deletionTimestamp).map((t) => [t.metadata?.uid ?? "", t]),
  );
}

/** The live Task controlling each unfinished Job. */
function unfinishedJobTasks(tasks: KubeObject[], jobs: KubeObject[]): KubeObject[] {
  const byUid = liveTasksByUid(tasks);
  const out: KubeObject[] = [];
  for (const job of jobs) {
    if (!isUnfinishedJob(job)) continue;
    const ref = job.metadata?.ownerReferences?.find((r) => r.controller && r.kind === "Task");
    const task = ref && byUid.get(ref.uid);
    if (task) out.push(task);
  }
  return out;
}

function countBy(items: KubeObject[], key: (o: KubeObject) => string | undefined) {
  const out = new Map<string, number>();
  for (const o of items) {
    const k = key(o);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** Unfinished Jobs now, per "namespace/agent" (the Task's agentRef, else "default"). */
export function unfinishedJobsPerAgent(tasks: KubeObject[], jobs: KubeObject[]) {
  return countBy(
    unfinishedJobTasks(tasks, jobs),
    (t) => `${t.metadata?.namespace}/${t.spec?.agentRef ?? "default"}`,
  );
}

/** Unfinished runs now, per "namespace/crontask": at most 1 under Forbid and Replace. */
export function concurrentRuns(tasks: KubeObject[], jobs: KubeObject[]) {
  return countBy(unfinishedJobTasks(tasks, jobs), (t) => {
    const cron = t.metadata?.labels?.[CRONTASK_LABEL];
    return cron && !isTerminal(t) ? `${t.metadata?.namespace}/${cron}` : undefined;
  });
}

/** Every Task has its Job, or waits in Queued for its Agent's capacity. */
export function settled(tasks: KubeObject[], jobs: KubeObject[]): boolean {
  const { lost } = ownership(tasks.filter((t) => t.status?.phase !== "Queued"), jobs);
  return lost.length === 0;
}

/**
 * A Task that is not Completed or Failed must say why: Queued or Pending with a condition that
 * gives a reason, or Running with its Job really unfinished.
 */
export function unexplained(tasks: KubeObject[], jobs: KubeObject[]): string[] {
  const running = new Set(unfinishedJobTasks(tasks, jobs).map((t) => t.metadata?.uid));
  return tasks.filter((t) => {
    if (isTerminal(t)) return false;
    if (t.status?.phase === "Running") return !running.has(t.metadata?.uid);
    const reasons = (t.status?.conditions ?? []).filter((c: KubeObject) => c.reason);
    return !(t.status?.phase && reasons.length > 0);
  }).map((t) => `${t.metadata?.namespace}/${t.metadata?.name} (${t.status?.phase ?? "no phase"})`);
}

/** Schedule times for which a CronTask has more than one Task. */
export function cronDuplicates(tasks: KubeObject[]): string[] {
  const runs = countBy(tasks, (t) => {
    const cron = t.metadata?.labels?.[CRONTASK_LABEL];
    const at = t.metadata?.annotations?.[SCHEDULED_AT];
    return cron && at ? `${t.metadata?.namespace}/${cron}@${at}` : undefined;
  });
  return [...runs].filter(([, n]) => n > 1).map(([k]) => k);
}

/** Events recorded about each Task (an aggregated Event counts as many as its count). */
export function mostEventsPerTask(events: KubeObject[]): number {
  const per = new Map<string, number>();
  for (const e of events) {
    if (e.involvedObject?.kind !== "Task") continue;
    const k = e.involvedObject.uid ?? `${e.involvedObject.namespace}/${e.involvedObject.name}`;
    per.set(k, (per.get(k) ?? 0) + Math.max(1, e.count ?? e.series?.count ?? 1));
  }
  return Math.max(0, ...per.values());
}

export interface FinalState {
  tasks: KubeObject[];
  jobs: KubeObject[];
  configMaps: KubeObject[];
  events: KubeObject[];
}

export interface Verdict {
  tasks: number;
  jobs: number;
  duplicates: string[];
  lost: string[];
  orphans: string[];
  unexplained: string[];
  cronDuplicates: string[];
  mostEventsPerTask: number;
}

/** What the apiserver holds at the end of a scenario, checked against the invariants. */
export function judge(s: FinalState): Verdict {
  // A Task still Queued has no Job yet by design; every other must have exactly one of each.
  const started = s.tasks.filter((t) => t.status?.phase !== "Queued");
  const jobs = ownership(started, s.jobs);
  const configMaps = ownership(started, s.configMaps);
  const uniq = (a: string[]) => [...new Set(a)];
  return {
    tasks: s.tasks.length,
    jobs: s.jobs.length,
    duplicates: uniq([...jobs.duplicates, ...configMaps.duplicates]),
    lost: uniq([...jobs.lost, ...configMaps.lost]),
    orphans: uniq([...jobs.orphans, ...configMaps.orphans]),
    unexplained: unexplained(s.tasks, s.jobs),
    cronDuplicates: cronDuplicates(s.tasks),
    mostEventsPerTask: mostEventsPerTask(s.events),
  };
}
