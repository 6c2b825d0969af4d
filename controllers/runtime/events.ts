// Records core/v1 Events about objects. Identical events (same object, type,
// reason and message) within a short window bump the count of the existing
// Event instead of creating a new one, so a hot loop does not flood etcd.
// Recording is best effort: a failure is logged, never thrown to reconcilers.
import { EventResource } from "./resources.ts";
import type { EventRecorder, KubeClient, KubeObject, Logger } from "./types.ts";
import { processIdentity } from "./identity.ts";

export const EVENT_SOURCE = "kubetask-controller";

const AGGREGATION_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
  at: number;
}

export class KubeEventRecorder implements EventRecorder {
  private seen = new Map<string, Seen>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly instance: string = processIdentity(),
  ) {}

  async event(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || "default";
    const key = [meta.uid ?? `${namespace}/${meta.name}`, type, reason, message].join("\u0000");
    const now = this.now();
    const stamp = now.toISOString().replace(/\.\d+Z$/, "Z");
    try {
      const prior = this.seen.get(key);
      if (prior && now.getTime() - prior.at < AGGREGATION_WINDOW_MS) {
        const count = prior.count + 1;
        try {
          await this.client.patch(EventResource, prior.namespace, prior.name, {
            count,
            lastTimestamp: stamp,
          });
          this.remember(key, { ...prior, count, at: now.getTime() });
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
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type,
        reason,
        message,
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
        firstTimestamp: stamp,
        at: now.getTime(),
      });
    } catch (err) {
      this.log.warn("could not record event", {
        reason,
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
