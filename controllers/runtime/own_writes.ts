// Status writes this process made that the cache may not show yet.
//
// After we write status on top of resourceVersion R, a reconcile that still
// observes R (say, woken by the Job we just created, before the watch has
// delivered our own write) would plan from an outdated copy and get a 409.
// Such a reconcile is skipped instead: the watch event of our write is on its
// way and enqueues the key again. Like the Job controller's expectations, but
// only for our own status writes.
//
// The manager owns this (reconcileUnlessSuperseded): it checks the cached
// primary once, before a reconcile starts to observe, and records every status
// write made through the client it hands the reconciler. Reconcilers and the
// apply layer know nothing of it.
import type {
  Controller,
  KubeObject,
  KubeWriter,
  ReconcileContext,
  Request,
  Result,
} from "./types.ts";

const MAX_TRACKED = 50_000;

export class OwnWrites {
  /** uid → the resourceVersion our last status write replaced */
  private superseded = new Map<string, string>();

  /** True if `obj` is the version our own write already replaced. */
  isSuperseded(obj: KubeObject): boolean {
    const uid = obj.metadata?.uid;
    if (!uid) return false;
    const replaced = this.superseded.get(uid);
    if (replaced === undefined) return false;
    if (replaced === obj.metadata?.resourceVersion) return true;
    this.superseded.delete(uid); // the cache has moved on
    return false;
  }

  /** Records that a status write replaced the observed version of `obj`. */
  wrote(observed: KubeObject): void {
    const uid = observed.metadata?.uid;
    const rv = observed.metadata?.resourceVersion;
    if (!uid || !rv) return;
    this.superseded.delete(uid);
    this.superseded.set(uid, rv);
    // Objects deleted before their next event would stay forever: cap, oldest first.
    if (this.superseded.size > MAX_TRACKED) {
      this.superseded.delete(this.superseded.keys().next().value!);
    }
  }
}

/** `client`, recording in `ownWrites` each status write that succeeded. */
export function recordingStatusWrites(client: KubeWriter, ownWrites: OwnWrites): KubeWriter {
  return {
    create: (type, obj) => client.create(type, obj),
    patch: (type, namespace, name, patch) => client.patch(type, namespace, name, patch),
    delete: (type, namespace, name, opts) => client.delete(type, namespace, name, opts),
    updateStatus: async (type, obj) => {
      const written = await client.updateStatus(type, obj);
      // `obj` carries the resourceVersion the write replaced.
      ownWrites.wrote(obj);
      return written;
    },
  };
}

/**
 * Runs `controller`'s reconcile of `req`, unless the cache still shows the
 * primary at the version our own last status write replaced: then nothing is
 * observed or written (the watch event of that write enqueues the key again).
 */
export function reconcileUnlessSuperseded(
  controller: Pick<Controller, "type" | "reconcile">,
  req: Request,
  ctx: ReconcileContext,
  ownWrites: OwnWrites,
): Promise<Result> {
  const primary = ctx.cache.get(controller.type, req.namespace, req.name);
  if (primary && ownWrites.isSuperseded(primary)) {
    ctx.log.debug("cache behind our own status write; waiting for its event");
    return Promise.resolve({});
  }
  return controller.reconcile(req, {
    ...ctx,
    client: recordingStatusWrites(ctx.client, ownWrites),
  });
}
