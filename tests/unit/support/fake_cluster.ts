// An in-memory stand-in for the apiserver and the informer caches, so
// reconcilers run in unit tests without a cluster. It keeps the semantics
// reconcilers rely on: uids and resourceVersions, AlreadyExists on create,
// 409 Conflict on a stale status write, uid preconditions on delete,
// deletion of owned objects (as the garbage collector would).
//
// The cache is a separate copy that can lag behind the "apiserver": writes
// land in the store at once and reach the cache on sync() (automatic unless
// `laggingCache` is set), as informers do after a watch event.
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { typeKey } from "../../../controllers/runtime/cache.ts";
import { ownerIndexValues } from "../../../controllers/runtime/owners.ts";
import { ApiError } from "../../../controllers/runtime/transport.ts";
import {
  AlreadyExistsError,
  type CacheReader,
  ConflictError,
  type Controller,
  type DeleteOptions,
  type EventRecorder,
  type IndexFunc,
  type KubeObject,
  type KubeWriter,
  type LiveReader,
  NAMESPACE_INDEX,
  NotFoundError,
  OWNER_INDEX,
  type ReconcileContext,
  type ResourceType,
} from "../../../controllers/runtime/types.ts";

export interface RecordedEvent {
  object: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** One API call as the fake saw it, for assertions on what a reconcile wrote. */
export interface Call {
  verb: "get" | "list" | "create" | "patch" | "updateStatus" | "delete";
  resource: string;
  name: string;
}

const key = (t: ResourceType, ns: string, name: string) => `${typeKey(t)}|${ns}|${name}`;

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === "object" && !Object.isFrozen(obj)) {
    Object.freeze(obj);
    for (const v of Object.values(obj)) deepFreeze(v);
  }
  return obj;
}

export class FakeCluster implements KubeWriter, CacheReader, EventRecorder {
  private store = new Map<string, { type: ResourceType; obj: KubeObject }>();
  private cached = new Map<string, { type: ResourceType; obj: KubeObject }>();
  private indexes = new Map<string, Record<string, IndexFunc>>();
  /** What a type's cache keeps of each object (a controller's transform). */
  private transforms = new Map<string, (obj: KubeObject) => KubeObject>();
  private nextRv = 1;
  private nextUid = 1;
  readonly calls: Call[] = [];
  readonly events: RecordedEvent[] = [];
  /** When set, writes reach the cache only on sync(). */
  laggingCache = false;
  /**
   * The apiserver's schema for a status, where a test needs one: the message
   * of a 422 for a status it would refuse, else undefined.
   */
  statusInvalid?: (type: ResourceType, obj: KubeObject) => string | undefined;
  /** The clock reconcilers see through context(). */
  now = new Date("2030-01-01T00:00:00Z");

  /** Declares an index on a type's cache, as a controller does. */
  addIndex(type: ResourceType, name: string, fn: IndexFunc): void {
    this.indexes.set(typeKey(type), { ...this.indexes.get(typeKey(type)), [name]: fn });
  }

  /** Declares every index and cache transform a controller asks for, as the manager does. */
  declareIndexes(controller: Controller): void {
    for (const [name, fn] of Object.entries(controller.indexes ?? {})) {
      this.addIndex(controller.type, name, fn);
    }
    if (controller.transform) this.transforms.set(typeKey(controller.type), controller.transform);
    for (const source of controller.watches) {
      for (const [name, fn] of Object.entries(source.indexes ?? {})) {
        this.addIndex(source.type, name, fn);
      }
      if (source.transform) this.transforms.set(typeKey(source.type), source.transform);
    }
  }

  /** Puts an object in the store (and cache) as if someone else had created it. */
  seed<T extends KubeObject>(type: ResourceType, obj: T): T {
    const stored = this.stamp(type, structuredClone(obj), true);
    this.store.set(this.keyOf(type, stored), { type, obj: stored });
    this.syncOne(type, stored);
    return structuredClone(stored) as T;
  }

  /** Copies the store into the cache (the informers catching up). */
  sync(): void {
    this.cached = new Map(
      [...this.store].map((
        [k, v],
      ) => [k, { type: v.type, obj: this.cachedCopy(v.type, v.obj) }]),
    );
  }

  /** The apiserver's copy (not the cache's). */
  stored<T extends KubeObject>(type: ResourceType, namespace: string, name: string): T | undefined {
    const got = this.store.get(key(type, namespace, name));
    return got ? structuredClone(got.obj) as T : undefined;
  }

  /** Every stored object of a type. */
  storedList<T extends KubeObject>(type: ResourceType): T[] {
    return [...this.store.values()].filter((v) => typeKey(v.type) === typeKey(type))
      .map((v) => structuredClone(v.obj) as T);
  }

  /** Changes an object as another client would (e.g. the Job controller updating status). */
  mutate(type: ResourceType, namespace: string, name: string, change: (o: KubeObject) => void) {
    const got = this.store.get(key(type, namespace, name));
    if (!got) throw new Error(`no ${type.plural} ${namespace}/${name}`);
    change(got.obj);
    got.obj.metadata!.resourceVersion = String(this.nextRv++);
    this.syncOne(type, got.obj);
  }

  /** The context a reconciler gets, over this fake. */
  context(now?: () => Date): ReconcileContext {
    return {
      cache: this,
      live: this.liveReader,
      client: this,
      events: this,
      now: now ?? (() => this.now),
      log: silentLogger,
    };
  }

  // --- CacheReader ---

  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): T | undefined {
    return this.cached.get(key(type, namespace, name))?.obj as T | undefined;
  }

  list<T extends KubeObject>(type: ResourceType, namespace: string): T[] {
    return this.cachedOf(type).filter((o) =>
      !namespace || o.metadata?.namespace === namespace
    ) as T[];
  }

  byIndex<T extends KubeObject>(type: ResourceType, index: string, value: string): T[] {
    const fns: Record<string, IndexFunc> = {
      [NAMESPACE_INDEX]: (o) => [o.metadata?.namespace ?? ""],
      [OWNER_INDEX]: ownerIndexValues,
      ...this.indexes.get(typeKey(type)),
    };
    const fn = fns[index];
    if (!fn) throw new Error(`no index "${index}" on ${type.plural}`);
    return this.cachedOf(type).filter((o) => fn(o).includes(value)) as T[];
  }

  // --- LiveReader (the fake's live reads are separate from the cache) ---

  readonly liveReader: LiveReader = {
    get: <T extends KubeObject>(type: ResourceType, namespace: string, name: string) => {
      this.calls.push({ verb: "get", resource: type.plural, name });
      return Promise.resolve(this.stored<T>(type, namespace, name));
    },
    list: <T extends KubeObject>(
      type: ResourceType,
      namespace: string,
      opts: { labelSelector?: string } = {},
    ) => {
      this.calls.push({ verb: "list", resource: type.plural, name: "" });
      // Equality selectors only ("k=v,k2=v2"): all the controllers use.
      const wanted = (opts.labelSelector ?? "").split(",").filter(Boolean).map((t) => t.split("="));
      return Promise.resolve(
        this.storedList<T>(type).filter((o) =>
          (!namespace || o.metadata?.namespace === namespace) &&
          wanted.every(([k, v]) => o.metadata?.labels?.[k] === v)
        ),
      );
    },
  };

  // --- KubeWriter ---

  create<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    this.calls.push({ verb: "create", resource: type.plural, name: obj.metadata?.name ?? "" });
    const k = this.keyOf(type, obj);
    if (this.store.has(k)) {
      return Promise.reject(
        new AlreadyExistsError(`${type.plural} "${obj.metadata?.name}" exists`),
      );
    }
    const stored = this.stamp(type, structuredClone(obj), true);
    delete stored.status; // the status subresource ignores status on create
    this.store.set(k, { type, obj: stored });
    this.syncOne(type, stored);
    return Promise.resolve(structuredClone(stored) as T);
  }

  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T> {
    this.calls.push({ verb: "patch", resource: type.plural, name });
    const got = this.store.get(key(type, namespace, name));
    if (!got) return Promise.reject(new NotFoundError(`${type.plural} "${name}" not found`));
    got.obj = mergePatch(got.obj, patch) as KubeObject;
    got.obj.metadata!.resourceVersion = String(this.nextRv++);
    this.syncOne(type, got.obj);
    return Promise.resolve(structuredClone(got.obj) as T);
  }

  updateStatus<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    const name = obj.metadata?.name ?? "";
    this.calls.push({ verb: "updateStatus", resource: type.plural, name });
    const got = this.store.get(this.keyOf(type, obj));
    if (!got) return Promise.reject(new NotFoundError(`${type.plural} "${name}" not found`));
    if (got.obj.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      return Promise.reject(new ConflictError(`${type.plural} "${name}" was modified`));
    }
    const invalid = this.statusInvalid?.(type, obj);
    if (invalid) {
      return Promise.reject(
        new ApiError(
          422,
          "Invalid",
          `PUT ${type.plural}/${name}/status: 422 Invalid ${invalid}`,
          invalid,
        ),
      );
    }
    got.obj = { ...got.obj, status: structuredClone(obj.status) };
    got.obj.metadata = { ...got.obj.metadata, resourceVersion: String(this.nextRv++) };
    this.syncOne(type, got.obj);
    return Promise.resolve(structuredClone(got.obj) as T);
  }

  delete(
    type: ResourceType,
    namespace: string,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<void> {
    this.calls.push({ verb: "delete", resource: type.plural, name });
    const k = key(type, namespace, name);
    const got = this.store.get(k);
    if (!got) return Promise.resolve();
    if (opts.uid && got.obj.metadata?.uid !== opts.uid) {
      return Promise.reject(new ConflictError(`uid precondition failed for "${name}"`));
    }
    this.store.delete(k);
    // The garbage collector: whatever this object controlled goes too.
    for (const [ok, v] of [...this.store]) {
      if (v.obj.metadata?.ownerReferences?.some((r) => r.uid === got.obj.metadata?.uid)) {
        this.store.delete(ok);
      }
    }
    if (!this.laggingCache) this.sync();
    return Promise.resolve();
  }

  // --- EventRecorder ---

  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    this.events.push({ object: obj.metadata?.name ?? "", type, reason, message });
  }

  /** The writes a reconcile issued (reads excluded), as "verb resource/name". */
  writes(): string[] {
    return this.calls.filter((c) => c.verb !== "get" && c.verb !== "list")
      .map((c) => `${c.verb} ${c.resource}/${c.name}`);
  }

  // --- internals ---

  private keyOf(type: ResourceType, obj: KubeObject): string {
    return key(type, obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
  }

  private cachedOf(type: ResourceType): KubeObject[] {
    return [...this.cached.values()].filter((v) => typeKey(v.type) === typeKey(type))
      .map((v) => v.obj);
  }

  private stamp(type: ResourceType, obj: KubeObject, fresh: boolean): KubeObject {
    obj.apiVersion ??= type.apiVersion;
    obj.kind ??= type.kind;
    obj.metadata ??= {};
    if (fresh) {
      obj.metadata.uid ??= `uid-${this.nextUid++}`;
      obj.metadata.creationTimestamp ??= this.now.toISOString().replace(/\.\d+Z$/, "Z");
      obj.metadata.generation ??= 1;
    }
    obj.metadata.resourceVersion = String(this.nextRv++);
    return obj;
  }

  private syncOne(type: ResourceType, obj: KubeObject): void {
    if (this.laggingCache) return;
    this.cached.set(this.keyOf(type, obj), { type, obj: this.cachedCopy(type, obj) });
  }

  /** What the cache holds of a stored object: a frozen copy, transformed as declared. */
  private cachedCopy(type: ResourceType, obj: KubeObject): KubeObject {
    const transform = this.transforms.get(typeKey(type));
    const copy = structuredClone(obj);
    return deepFreeze(transform ? transform(copy) : copy);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
