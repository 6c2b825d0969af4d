// A Job the cluster will not give a pod (Pod Security, a ResourceQuota, a
// LimitRange, an admission webhook) says so only in FailedCreate Events from
// the Job controller. The Task controller watches just those Events and shows
// the newest one's message on the Task while its Job has no pod.
import { controllerOf } from "../runtime/owners.ts";
import { JobResource, TaskResource } from "../runtime/resources.ts";
import type { CacheReader, KubeObject, Request } from "../runtime/types.ts";

/** Server-side filter: only the Job controller's pod-creation failures are listed and watched. */
export const FAILED_CREATE_SELECTOR = "involvedObject.kind=Job,reason=FailedCreate";

/** Event cache index: the uid of the Job an Event is about. */
export const JOB_UID_INDEX = "job-uid";

export function jobUidOf(event: KubeObject): string[] {
  const uid = event.involvedObject?.uid;
  return uid ? [uid] : [];
}

/** What the cache keeps of an Event: whom it is about, what it says and when. */
export function eventForCache(event: KubeObject): KubeObject {
  const { apiVersion, kind, metadata, involvedObject, message, lastTimestamp, eventTime } = event;
  return {
    apiVersion,
    kind,
    metadata,
    involvedObject: { name: involvedObject?.name, uid: involvedObject?.uid },
    message,
    lastTimestamp,
    eventTime,
  };
}

/** An Event about one of our Jobs maps to the Task that controls the Job. */
export function mapFailedCreateToTask(event: KubeObject, cache: CacheReader): Request[] {
  const namespace = event.metadata?.namespace ?? "";
  const job = cache.get(JobResource, namespace, event.involvedObject?.name ?? "");
  if (!job || job.metadata?.uid !== event.involvedObject?.uid) return [];
  const ref = controllerOf(job, TaskResource);
  return ref ? [{ kind: "Task", namespace, name: ref.name }] : [];
}

/** The newest message among a Job's FailedCreate Events, if any. */
export function latestFailedCreate(events: KubeObject[]): string | undefined {
  const when = (e: KubeObject) => String(e.lastTimestamp ?? e.eventTime ?? "");
  const newest = [...events].sort((a, b) => when(a).localeCompare(when(b))).at(-1);
  return newest ? String(newest.message ?? "the cluster refused to create the pod") : undefined;
}
