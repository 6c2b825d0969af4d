// The contract between the controller runtime and the reconcilers.
//
// A reconciler is handed only a key; it reads current state through the
// KubeClient (level-triggered), computes desired state with pure functions and
// applies it. Returning requeueAfterMs schedules time-based work (TTL, cron);
// throwing re-queues the key with per-item exponential backoff.

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

/**
 * The one small client layer every reconciler writes through. Reads go to the
 * apiserver (or an informer cache); errors are mapped to the classes above.
 */
export interface KubeClient {
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
  delete(
    type: ResourceType,
    namespace: string,
    name: string,
    opts?: { propagationPolicy?: "Background" | "Foreground" | "Orphan"; uid?: string },
  ): Promise<void>;
}

/** Records core/v1 Events about an object (deduplicated by the implementation). */
export interface EventRecorder {
  event(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void>;
}

/** Everything a reconciler may use: injected so tests can pass a fixed clock. */
export interface ReconcileContext {
  client: KubeClient;
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
 * How changes to some resource map to keys of a controller's kind. The
 * primary kind maps to itself; owned objects map to their controller owner;
 * referenced objects (Agent, Context) map through an index.
 */
export interface WatchSource {
  type: ResourceType;
  /** Watch (and cache) only objects matching this label selector, e.g. our own Jobs. */
  labelSelector?: string;
  /**
   * Keys to enqueue for a changed object (may be empty). `cache` lists objects
   * of the controller's primary kind from the informer cache, so a referenced
   * object (an Agent) can find the Tasks that name it without an API call.
   */
  map(obj: KubeObject, cache: PrimaryCache): Request[];
}

/** Read-only view of the informer cache of a controller's primary kind. */
export interface PrimaryCache {
  list(namespace?: string): KubeObject[];
}

export interface Controller {
  /** The kind it reconciles, e.g. "Task"; also the first part of queue keys. */
  kind: string;
  type: ResourceType;
  /** Extra sources beyond the primary type. */
  watches: WatchSource[];
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result>;
}
