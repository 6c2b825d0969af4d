// An informer: list, then watch from the list's resourceVersion, keeping a
// local cache (by namespace/name, with indexes: namespace, owner uid and any
// a controller declares) and telling handlers about adds, updates and deletes.
// The cache keeps only what reconcilers read: managedFields and the
// last-applied annotation are dropped, and a transform may drop more.
//
// Why not client-node's makeInformer: its ListWatch reports errors through an
// "error" event and then simply stops unless the caller restarts it, and it
// does not distinguish a 410 Gone (history compacted: must re-list) from a
// dropped connection. Here each watch scope runs one loop that never stops on
// its own: a normal server-side close re-watches from the last resourceVersion,
// a 410 re-lists at once, and any other failure (apiserver down, connection
// reset) re-lists after an exponential backoff. Handlers see a re-list as the
// differences against the cache, so nothing is missed or duplicated.
import { ownerIndexValues } from "./owners.ts";
import { resourcePath } from "./resources.ts";
import { ApiTransport, statusError } from "./transport.ts";
import {
  type IndexFunc,
  type KubeObject,
  type Logger,
  NAMESPACE_INDEX,
  OWNER_INDEX,
  type ResourceType,
} from "./types.ts";
import { sleepUnless } from "./sleep.ts";
import { WATCH_RETRY_MAX_MS, WATCH_RETRY_MIN_MS } from "./defaults.ts";

export type InformerEventType = "add" | "update" | "delete";
export type InformerHandler = (type: InformerEventType, obj: KubeObject, old?: KubeObject) => void;

export interface InformerMetrics {
  watchRestarted(resource: string): void;
}

export interface InformerOptions {
  /** Where list and watch requests go (a fake one in tests). */
  transport: Pick<ApiTransport, "send">;
  type: ResourceType;
  /** Namespaces to watch (one watch each); empty or undefined = all namespaces. */
  namespaces?: string[];
  /** Only objects matching this label selector are listed, watched and cached. */
  labelSelector?: string;
  /** Only objects matching this field selector (e.g. Events of one reason). */
  fieldSelector?: string;
  /** Re-deliver every cached object as an update this often (0 = never). */
  resyncMs?: number;
  log: Logger;
  metrics?: InformerMetrics;
  /** Backoff between failed attempts: min and max in ms. */
  backoffMs?: { min: number; max: number };
  /** What the cache keeps of each object (applied after the built-in trimming). */
  transform?: (obj: KubeObject) => KubeObject;
  /** Extra indexes by name (NAMESPACE_INDEX and OWNER_INDEX are always kept). */
  indexes?: Record<string, IndexFunc>;
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * List pages aim at about this much JSON. The apiserver pages by count, and a
 * page is held whole (text, then parsed objects) before the transform trims it:
 * 500 Contexts of 256 KiB would be 128 MiB of text at once.
 */
export const LIST_PAGE_BYTES = 4 * 1024 * 1024;
/**
 * The first page asks for a few objects, whose size then sets the next page's
 * count, up to LIST_PAGE_MAX (small objects: fewer pages than client-go's 500).
 */
export const LIST_PAGE_FIRST = 50;
export const LIST_PAGE_MAX = 1000;

/** The next page's limit: as many objects as the last page's average size fits in LIST_PAGE_BYTES. */
export function nextPageLimit(limit: number, items: number, bytes: number): number {
  if (items === 0 || bytes <= 0) return limit;
  const fits = Math.floor(LIST_PAGE_BYTES / (bytes / items));
  return Math.max(1, Math.min(LIST_PAGE_MAX, fits));
}

/** Drops what no reconciler reads but can double an object's size. */
export function trimForCache(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (!meta) return obj;
  const { managedFields: _managed, ...rest } = meta as typeof meta & { managedFields?: unknown };
  if (rest.annotations && LAST_APPLIED in rest.annotations) {
    const { [LAST_APPLIED]: _last, ...annotations } = rest.annotations;
    rest.annotations = annotations;
  }
  return { ...obj, metadata: rest };
}

const BUILTIN_INDEXES: Record<string, IndexFunc> = {
  [NAMESPACE_INDEX]: (obj) => [obj.metadata?.namespace ?? ""],
  [OWNER_INDEX]: ownerIndexValues,
};

/** A watch that ended and needs a fresh list (410 Gone). */
class GoneError extends Error {}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

export class Informer {
  readonly type: ResourceType;
  private readonly cache = new Map<string, KubeObject>();
  private readonly indexFuncs: Record<string, IndexFunc>;
  /** index name → index value → object keys */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly handlers: InformerHandler[] = [];
  private readonly scopes: string[];
  private readonly pendingScopes: Set<string>;
  private readonly aborts = new Set<AbortController>();
  /** Aborted by stop(): ends the waits between re-lists. */
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private started = false;
  private resolveSynced!: () => void;
  /** Resolves when every scope has completed its first list. */
  readonly synced: Promise<void>;

  constructor(private readonly opts: InformerOptions) {
    this.type = opts.type;
    // A cluster-scoped kind has one scope whatever namespaces are watched.
    this.scopes = opts.type.namespaced && opts.namespaces?.length
      ? [...new Set(opts.namespaces)]
      : [""];
    this.pendingScopes = new Set(this.scopes);
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
    this.indexFuncs = { ...BUILTIN_INDEXES, ...opts.indexes };
    for (const name of Object.keys(this.indexFuncs)) this.indexes.set(name, new Map());
  }

  on(handler: InformerHandler): void {
    this.handlers.push(handler);
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  /** Objects of one namespace; undefined or "" = every namespace. */
  list(namespace?: string): KubeObject[] {
    if (!namespace) return [...this.cache.values()];
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  /** Cached objects an index maps `value` to; an unknown index is a programming error. */
  byIndex(index: string, value: string): KubeObject[] {
    const byValue = this.indexes.get(index);
    if (!byValue) throw new Error(`no index "${index}" on the ${this.type.plural} cache`);
    return [...(byValue.get(value) ?? [])].map((k) => this.cache.get(k)!);
  }

  size(): number {
    return this.cache.size;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.loops = this.scopes.map((ns) => this.run(ns));
    const resync = this.opts.resyncMs ?? 0;
    if (resync > 0) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.cache.values()) this.emit("update", obj, obj);
      }, resync);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.stopping.abort();
    for (const a of this.aborts) a.abort();
    await Promise.all(this.loops);
  }

  // --- the list/watch loop of one scope ("" = all namespaces) ---

  private async run(namespace: string): Promise<void> {
    const { min, max } = this.opts.backoffMs ??
      { min: WATCH_RETRY_MIN_MS, max: WATCH_RETRY_MAX_MS };
    const resource = this.type.plural;
    let delay = min;
    while (!this.stopped) {
      try {
        let rv = await this.listAndReplace(namespace);
        if (this.pendingScopes.delete(namespace) && this.pendingScopes.size === 0) {
          this.resolveSynced();
        }
        if (delay > min) this.opts.log.info("list/watch recovered", { resource, namespace });
        delay = min;
        // Watch until something forces a re-list; a normal close just re-watches.
        while (!this.stopped) rv = await this.watch(namespace, rv);
      } catch (err) {
        if (this.stopped) break;
        this.opts.metrics?.watchRestarted(resource);
        if (err instanceof GoneError) {
          this.opts.log.info("watch expired, re-listing", { resource, namespace });
          continue;
        }
        this.opts.log.warn("list/watch failed, retrying", {
          resource,
          namespace,
          error: err,
          retryInMs: delay,
        });
        await sleepUnless(delay * (0.8 + Math.random() * 0.4), this.stopping.signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  private async listAndReplace(namespace: string): Promise<string> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = "";
    let limit = LIST_PAGE_FIRST;
    do {
      const { body: page, bytes } = await this.request<
        { items?: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } }
      >(
        resourcePath(this.type, namespace),
        {
          limit,
          continue: cont,
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
        },
      );
      const got = page.items ?? [];
      for (const item of got) {
        items.push(
          this.prepare({ ...item, apiVersion: this.type.apiVersion, kind: this.type.kind }),
        );
      }
      limit = nextPageLimit(limit, got.length, bytes);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    this.replace(namespace, items);
    return rv;
  }

  private async request<T>(
    path: string,
    query: Record<string, string | number | undefined>,
  ): Promise<{ body: T; bytes: number }> {
    const abort = new AbortController();
    this.aborts.add(abort);
    try {
      const res = await this.opts.transport.send("GET", path, { query, signal: abort.signal });
      const text = await res.text();
      if (res.status !== 200) throw statusError(res.status, text, `list ${this.type.plural}`);
      return { body: JSON.parse(text) as T, bytes: text.length };
    } finally {
      this.aborts.delete(abort);
    }
  }

  /** One watch request; returns the last resourceVersion seen when the server closes it. */
  private async watch(namespace: string, rv: string): Promise<string> {
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const abort = new AbortController();
    this.aborts.add(abort);
    // The server closes the watch after timeoutSeconds; if nothing at all
    // arrives well past that, the connection is dead without having said so.
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(
        () => abort.abort(new Error("watch idle timeout")),
        (timeoutSeconds + 30) * 1000,
      );
    };
    try {
      touch();
      const res = await this.opts.transport.send("GET", resourcePath(this.type, namespace), {
        query: {
          watch: 1,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
        },
        signal: abort.signal,
      });
      if (res.status === 410) throw new GoneError();
      if (res.status !== 200) {
        throw statusError(res.status, await res.text(), `watch ${this.type.plural}`);
      }
      const stream = res.stream();
      if (!stream) throw new Error("watch response has no body");
      // Aborting the request does not end a body already streaming (undici
      // under Deno), so an abort cancels the reader explicitly.
      const reader = stream.getReader();
      const cancel = () => void reader.cancel().catch(() => {});
      abort.signal.addEventListener("abort", cancel);
      if (abort.signal.aborted) cancel();
      let buffered = "";
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        touch();
        buffered += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) rv = this.apply(JSON.parse(line), rv);
        }
      }
      return rv;
    } finally {
      if (idle !== undefined) clearTimeout(idle);
      this.aborts.delete(abort);
    }
  }

  /** Applies one watch event to the cache; returns the new resourceVersion. */
  private apply(event: { type: string; object: KubeObject }, rv: string): string {
    const obj = event.type === "BOOKMARK" || event.type === "ERROR"
      ? event.object
      : this.prepare(event.object);
    switch (event.type) {
      case "ADDED":
      case "MODIFIED": {
        const old = this.cache.get(objectKey(obj));
        this.put(obj);
        this.emit(old ? "update" : "add", obj, old);
        break;
      }
      case "DELETED": {
        this.remove(objectKey(obj));
        this.emit("delete", obj);
        break;
      }
      case "BOOKMARK":
        break;
      case "ERROR": {
        const status = obj as { code?: number; message?: string };
        if (status.code === 410) throw new GoneError();
        throw new Error(`watch error ${status.code}: ${status.message}`);
      }
    }
    return obj.metadata?.resourceVersion ?? rv;
  }

  /** Makes the cache of one scope equal to a fresh list, emitting the differences. */
  private replace(namespace: string, items: KubeObject[]): void {
    const fresh = new Map(items.map((o) => [objectKey(o), o]));
    for (const [key, old] of [...this.cache]) {
      const inScope = namespace === "" || old.metadata?.namespace === namespace;
      if (inScope && !fresh.has(key)) {
        this.remove(key);
        this.emit("delete", old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.put(obj);
      if (!old) this.emit("add", obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.emit("update", obj, old);
      }
    }
  }

  /** What the cache keeps of an object as the apiserver sent it. */
  private prepare(obj: KubeObject): KubeObject {
    const trimmed = trimForCache(obj);
    return this.opts.transform ? this.opts.transform(trimmed) : trimmed;
  }

  private put(obj: KubeObject): void {
    const key = objectKey(obj);
    this.unindex(key);
    this.cache.set(key, obj);
    for (const [name, fn] of Object.entries(this.indexFuncs)) {
      const byValue = this.indexes.get(name)!;
      for (const value of fn(obj)) {
        let keys = byValue.get(value);
        if (!keys) byValue.set(value, keys = new Set());
        keys.add(key);
      }
    }
  }

  private remove(key: string): void {
    this.unindex(key);
    this.cache.delete(key);
  }

  private unindex(key: string): void {
    const obj = this.cache.get(key);
    if (!obj) return;
    for (const [name, fn] of Object.entries(this.indexFuncs)) {
      const byValue = this.indexes.get(name)!;
      for (const value of fn(obj)) {
        const keys = byValue.get(value);
        keys?.delete(key);
        if (keys?.size === 0) byValue.delete(value);
      }
    }
  }

  private emit(type: InformerEventType, obj: KubeObject, old?: KubeObject): void {
    for (const handler of this.handlers) {
      try {
        handler(type, obj, old);
      } catch (err) {
        this.opts.log.error("informer handler failed", { resource: this.type.plural, error: err });
      }
    }
  }
}
