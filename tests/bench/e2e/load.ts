// Load for the benchmark: parallel writers over the REST API (no kubectl
// process per object), and a watch that says when N Jobs exist.
import { AccessProvider } from "../../../controllers/runtime/access.ts";
import { Informer, objectKey } from "../../../controllers/runtime/informer.ts";
import { RestKubeClient } from "../../../controllers/runtime/kube.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import { JobResource } from "../../../controllers/runtime/resources.ts";
import { TaskResource } from "../../../controllers/kinds.ts";
import { ApiTransport } from "../../../controllers/runtime/transport.ts";
import type { KubeObject, ResourceType } from "../../../controllers/runtime/types.ts";

export async function adminClient(kubeconfig: string) {
  const transport = new ApiTransport(await AccessProvider.load({ kubeconfig }));
  return { client: new RestKubeClient(transport), transport };
}

/** `writers` loops share `count` items; item i is written by make(i) in order. */
export async function writeInParallel(
  writers: number,
  count: number,
  write: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: writers }, async () => {
    for (let i = next++; i < count; i = next++) await write(i);
  }));
}

/** The burst: `count` Tasks task-0, task-1, ... in `namespace`, written by `writers` loops. */
export function writeTasks(
  client: RestKubeClient,
  writers: number,
  count: number,
  namespace: string,
): Promise<void> {
  return writeInParallel(writers, count, (i) =>
    client.create(TaskResource, {
      metadata: { name: `task-${i}`, namespace },
      spec: { description: `Task number ${i}` },
    }));
}

/**
 * Watches Jobs of a namespace (or of several; [] = all); `reached(n)` resolves
 * once n exist, and `firstSeen` says when each ("namespace/name") was first seen.
 */
export class JobCounter {
  private informer: Informer;
  /** performance.now() at each Job's first watch event. */
  readonly firstSeen = new Map<string, number>();

  constructor(transport: ApiTransport, namespaces: string | string[]) {
    this.informer = new Informer({
      transport,
      type: JobResource,
      namespaces: typeof namespaces === "string" ? [namespaces] : namespaces,
      // Only what counting needs: a Job's template is most of it.
      transform: (job) => ({ metadata: job.metadata }),
      log: silentLogger,
    });
    this.informer.on((type, obj) => {
      const key = objectKey(obj);
      if (type === "add" && !this.firstSeen.has(key)) this.firstSeen.set(key, performance.now());
    });
    this.informer.start();
  }

  synced(): Promise<void> {
    return this.informer.synced;
  }

  count(): number {
    return this.informer.size();
  }

  async reached(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.informer.size() < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.informer.size()}/${n} Jobs`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** Polls until every listed object satisfies `done` (for Tasks reaching a phase). */
export async function until(
  client: RestKubeClient,
  type: ResourceType,
  namespace: string,
  done: (objs: KubeObject[]) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done(await client.list(type, namespace))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${type.plural}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
