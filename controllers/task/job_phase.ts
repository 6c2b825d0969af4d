// A Job as the Task controller sees it: the parts of its status that matter
// (JobView) and the phase they put its Task in (jobPhase). Capacity, observe,
// the plan and the status all read a Job through these.
import type { TaskPhase } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

/** The parts of a batch/v1 Job the status depends on. */
export interface JobView extends KubeObject {
  status?: {
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
    startTime?: string;
    completionTime?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
}

/** The Job's condition of `type`, if it is True. */
export function jobCondition(job: JobView, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** The phases a Job can put a Task in (Queued is decided before any Job exists). */
export type JobTaskPhase = Exclude<TaskPhase, "Queued">;

/** The phase of a Job's single agent pod, read from the Job's status and conditions. */
export function jobPhase(job: JobView): JobTaskPhase {
  if (jobCondition(job, "Complete")) return "Completed";
  if (jobCondition(job, "Failed")) return "Failed";
  // Between the pod finishing and the Job's final condition, the Job shows
  // active 0 with the pod counted (or still being counted) or an interim
  // SuccessCriteriaMet/FailureTarget condition: that is still Running, never
  // back to Pending.
  const status = job.status ?? {};
  const uncounted = (status.uncountedTerminatedPods?.succeeded?.length ?? 0) +
    (status.uncountedTerminatedPods?.failed?.length ?? 0);
  if (
    (status.active ?? 0) > 0 || (status.succeeded ?? 0) > 0 || (status.failed ?? 0) > 0 ||
    uncounted > 0 || jobCondition(job, "SuccessCriteriaMet") || jobCondition(job, "FailureTarget")
  ) return "Running";
  return "Pending";
}
