// Records core/v1 Events about objects, off the reconcile path: event()
// queues and returns at once; a few background writers send them, so a burst
// of Tasks is never slowed down by its own Events (as client-go's broadcaster).
// Identical events (same object, type, reason and message) within a short
// window bump the count of the existing Event instead of creating a new one.
// Recording is best effort: a failure is logged, never thrown to reconcilers,
// and past MAX_PENDING the oldest queued Event is dropped and counted.
import { EventResource } from "./resources.ts";
import type { EventRecorder, KubeObject, KubeWriter, Logger } from "./types.ts";
import { processIdentity } from "./identity.ts";

export const EVENT_SOURCE = "kubetask-controller";

const AGGREGATION_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;
const MAX_PENDING = 10_000;
const WRITERS = 4;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

interface Pending {
  obj: KubeObject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  at: Date;
}

export class KubeEventRecorder implements EventRecorder {
  private seen = new Map<string, Seen>();
  private pending: Pending[] = [];
  private writing = 0;
  private idle: (() => void)[] = [];
  dropped = 0;

  constructor(
    private readonly client: KubeWriter,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly instance: string = processIdentity(),
  ) {}

  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push({ obj, type, reason, message, at: this.now() });
    while (this.writing < WRITERS && this.writing < this.pending.length) this.startWriter();
  }

  /** Resolves once every queued Event has been written (or given up on). */
  flush(): Promise<void> {
    if (this.writing === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private startWriter(): void {
    this.writing++;
    (async () => {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        await this.write(next);
      }
    })().finally(() => {
      this.writing--;
      // An Event queued after this writer's last look, while it still counted
      // as writing, started no writer of its own: pick it up here.
      if (this.pending.length > 0) {
        if (this.writing < WRITERS) this.startWriter();
        return;
      }
      if (this.writing === 0) { for (const resolve of this.idle.splice(0)) resolve(); }
    });
  }

  private async write(e: Pending): Promise<void> {
    const meta = e.obj.metadata ?? {};
    const namespace = meta.namespace || "default";
    const key = [meta.uid ?? `${namespace}/${meta.name}`, e.type, e.reason, e.message].join(
      "\u0000",
    );
    const stamp = e.at.toISOString().replace(/\.\d+Z$/, "Z");
    try {
      const prior = this.seen.get(key);
      if (prior && e.at.getTime() - prior.at < AGGREGATION_WINDOW_MS) {
        const count = prior.count + 1;
        try {
          await this.client.patch(EventResource, prior.namespace, prior.name, {
            count,
            lastTimestamp: stamp,
          });
          this.remember(key, { ...prior, count, at: e.at.getTime() });
          return;
        } catch {
          // The Event expired or was deleted: fall through and create a fresh one.
        }
      }
      const created = await this.client.create<KubeObject>(EventResource, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${meta.name ?? "object"}.`, namespace },
        involvedObject: {
          apiVersion: e.obj.apiVersion,
          kind: e.obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type: e.type,
        reason: e.reason,
        message: e.message,
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        reportingInstance: this.instance,
        firstTimestamp: stamp,
        lastTimestamp: stamp,
        count: 1,
      });
      this.remember(key, {
        name: created.metadata?.name ?? "",
        namespace,
        count: 1,
        at: e.at.getTime(),
      });
    } catch (err) {
      this.log.warn("could not record event", {
        reason: e.reason,
        object: `${namespace}/${meta.name}`,
        error: err,
      });
    }
  }

  private remember(key: string, seen: Seen): void {
    this.seen.delete(key); // re-insert so Map order is least recently used first
    this.seen.set(key, seen);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
  }
}
