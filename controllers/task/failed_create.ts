// A Job the cluster will not give a pod (Pod Security, a ResourceQuota, a
// LimitRange, an admission webhook) says so only in FailedCreate Events from
// the Job controller. The Task controller watches just those Events and shows
// the newest one's message on the Task while its Job has no pod.
import { controllerOf } from "../runtime/owners.ts";
import { JobResource } from "../runtime/resources.ts";
import { TaskResource } from "../kinds.ts";
import type { CacheReader, KubeObject, Request } from "../runtime/types.ts";

/** The Job controller's name as Events give it (source.component, reportingComponent). */
export const JOB_CONTROLLER = "job-controller";

/**
 * Server-side filter: only the Job controller's pod-creation failures are
 * listed and watched ("source" is source.component, else reportingComponent).
 */
export const FAILED_CREATE_SELECTOR =
  `involvedObject.kind=Job,reason=FailedCreate,source=${JOB_CONTROLLER}`;

/** Event cache index: the namespace and uid of the Job an Event is about (jobUidKey). */
export const JOB_UID_INDEX = "job-uid";

/** The index value for a Job: a uid alone can be written into any Event anywhere. */
export function jobUidKey(job: KubeObject): string {
  return `${job.metadata?.namespace ?? ""}/${job.metadata?.uid ?? ""}`;
}

/**
 * An Event counts only if the Job controller reported it, in the Job's own
 * namespace (an Event lives in its object's namespace): someone who may write
 * Events elsewhere cannot put words on another team's Task.
 */
export function jobUidOf(event: KubeObject): string[] {
  const uid = event.involvedObject?.uid;
  const reporter = event.source?.component || event.reportingComponent;
  if (!uid || reporter !== JOB_CONTROLLER) return [];
  return [`${event.metadata?.namespace ?? ""}/${uid}`];
}

/** What the cache keeps of an Event: whom it is about, who said it, what and when. */
export function eventForCache(event: KubeObject): KubeObject {
  const {
    apiVersion,
    kind,
    metadata,
    involvedObject,
    source,
    reportingComponent,
    message,
    lastTimestamp,
    eventTime,
  } = event;
  return {
    apiVersion,
    kind,
    metadata,
    involvedObject: { name: involvedObject?.name, uid: involvedObject?.uid },
    ...(source?.component ? { source: { component: source.component } } : {}),
    ...(reportingComponent ? { reportingComponent } : {}),
    message,
    lastTimestamp,
    eventTime,
  };
}

/** An Event about one of our Jobs maps to the Task that controls the Job. */
export function mapFailedCreateToTask(event: KubeObject, cache: CacheReader): Request[] {
  const namespace = event.metadata?.namespace ?? "";
  const job = cache.get(JobResource, namespace, event.involvedObject?.name ?? "");
  if (!job || !jobUidOf(event).includes(jobUidKey(job))) return [];
  const ref = controllerOf(job, TaskResource);
  return ref ? [{ kind: "Task", namespace, name: ref.name }] : [];
}

/** The newest message among a Job's FailedCreate Events, if any. */
export function latestFailedCreate(events: KubeObject[]): string | undefined {
  const when = (e: KubeObject) => String(e.lastTimestamp ?? e.eventTime ?? "");
  const newest = [...events].sort((a, b) => when(a).localeCompare(when(b))).at(-1);
  return newest ? String(newest.message ?? "the cluster refused to create the pod") : undefined;
}
