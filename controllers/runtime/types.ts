// The contract between the controller runtime and the reconcilers.
//
// A reconciler is handed only a key. It observes current state from the
// informer caches (level-triggered), plans the desired state with pure
// functions and hands the plan to the shared apply layer (apply.ts).
// Returning requeueAfterMs schedules time-based work (TTL, cron); throwing
// re-queues the key with per-item exponential backoff.

/** A Kubernetes object as JSON; typed views come from api/ schemas. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** Identifies a resource type: group/version plus plural resource name. */
export interface ResourceType {
  apiVersion: string; // "batch/v1", "v1", "kubetask.io/v1alpha1"
  kind: string; // "Job"
  plural: string; // "jobs"
  namespaced: boolean;
}

/** What the work queue holds: one object of one kind. */
export interface Request {
  kind: string;
  namespace: string;
  name: string;
}

export interface Result {
  /** Reconcile this key again after this many milliseconds (time-based work). */
  requeueAfterMs?: number;
}

export class NotFoundError extends Error {}
export class ConflictError extends Error {}
export class AlreadyExistsError extends Error {}

export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  /** Precondition: delete only the object with this uid (not a re-created namesake). */
  uid?: string;
}

/**
 * Reads straight from the apiserver. Reconcilers get it as `ctx.live` and use
 * it only where the cache has no copy (a user's ConfigMap) or cannot be
 * trusted (confirming that an object we created is really gone).
 */
export interface LiveReader {
  get<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
  ): Promise<T | undefined>;
  list<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    opts?: { labelSelector?: string },
  ): Promise<T[]>;
}

/** Writes go to the apiserver; errors are mapped to the classes above. */
export interface KubeWriter {
  create<T extends KubeObject>(type: ResourceType, obj: T): Promise<T>;
  /** Merge patch (RFC 7386) of the main resource. */
  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T>;
  /** Replace the status subresource; throws ConflictError on a stale resourceVersion. */
  updateStatus<T extends KubeObject>(type: ResourceType, obj: T): Promise<T>;
  /** Deletes with propagationPolicy Background unless told otherwise; absent is not an error. */
  delete(type: ResourceType, namespace: string, name: string, opts?: DeleteOptions): Promise<void>;
}

/** The REST client: live reads and writes (leader election, tools, tests). */
export interface KubeClient extends LiveReader, KubeWriter {}

/** Built-in indexes every informer keeps. */
export const NAMESPACE_INDEX = "namespace";
/** Objects by "namespace/uid" of each of their ownerReferences (owners.ts ownerIndexKey). */
export const OWNER_INDEX = "owner";

/** An index function: the values under which an object is found. */
export type IndexFunc = (obj: KubeObject) => string[];

/**
 * Reads from the informer caches: synchronous, no API request. Objects are
 * shared with the cache and must never be mutated. Reading a type nothing
 * watches is a programming error and throws.
 */
export interface CacheReader {
  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): T | undefined;
  /** Objects of a namespace ("" = all namespaces). */
  list<T extends KubeObject>(type: ResourceType, namespace: string): T[];
  /** Objects an index maps `value` to (NAMESPACE_INDEX, OWNER_INDEX or a controller's own). */
  byIndex<T extends KubeObject>(type: ResourceType, index: string, value: string): T[];
}

/** Records core/v1 Events about an object: queued, written in the background, never throws. */
export interface EventRecorder {
  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** Everything a reconciler may use: injected so tests can pass fakes and a fixed clock. */
export interface ReconcileContext {
  cache: CacheReader;
  live: LiveReader;
  client: KubeWriter;
  events: EventRecorder;
  now: () => Date;
  log: Logger;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * How changes to some resource map to keys of a controller's kind. Owned
 * objects map to their controller owner; referenced objects (Agent, Context)
 * map through the cache of the primary kind.
 */
export interface WatchSource {
  type: ResourceType;
  /** Watch (and cache) only objects matching this label selector, e.g. our own Jobs. */
  labelSelector?: string;
  /** Watch (and cache) only objects matching this field selector, e.g. Events of one reason. */
  fieldSelector?: string;
  /**
   * What the cache keeps of each object (e.g. a Job without its pod
   * template). Part of the informer's identity: two sources of one type and
   * selector must agree on it.
   */
  transform?: (obj: KubeObject) => KubeObject;
  /** Extra indexes on this type's cache, by name. */
  indexes?: Record<string, IndexFunc>;
  /** Keys to enqueue for a changed object (may be empty). */
  map(obj: KubeObject, cache: CacheReader): Request[];
}

export interface Controller {
  /** The kind it reconciles, e.g. "Task"; also the first part of queue keys. */
  kind: string;
  type: ResourceType;
  /** Extra indexes on the primary kind's cache. */
  indexes?: Record<string, IndexFunc>;
  /**
   * What the primary kind's cache keeps of each object (as WatchSource.transform;
   * every controller watching the same type must use the same function).
   */
  transform?: (obj: KubeObject) => KubeObject;
  /** Extra sources beyond the primary type; everything watched is readable from ctx.cache. */
  watches: WatchSource[];
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result>;
  /** The controller's own metrics, rendered on /metrics after the runtime's. */
  metrics?: MetricsCollector;
}

/** Metrics a controller keeps or computes from the caches at scrape time. */
export interface MetricsCollector {
  render(cache: CacheReader): string[];
}
