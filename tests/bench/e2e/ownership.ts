// The one invariant every burst must keep, checked from what the apiserver
// lists (not from the operator's word): each Task controls exactly one object
// of a kind (its Job, its task.md ConfigMap), and no such object is orphaned.
import type { KubeObject } from "../../../controllers/runtime/types.ts";

export interface Ownership {
  /** Tasks that control more than one object of the kind. */
  duplicates: string[];
  /** Tasks that control none. */
  lost: string[];
  /** Objects that name a Task as controller, but no listed Task has that uid. */
  orphans: string[];
}

const key = (o: KubeObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;

/** Owned objects per Task, matched by the controller reference's uid (names can be reused). */
export function ownership(tasks: KubeObject[], owned: KubeObject[]): Ownership {
  const count = new Map<string, number>();
  const orphans: string[] = [];
  const uids = new Set(tasks.map((t) => t.metadata?.uid));
  for (const o of owned) {
    const ref = o.metadata?.ownerReferences?.find((r) => r.controller && r.kind === "Task");
    if (!ref) continue;
    if (!uids.has(ref.uid)) orphans.push(key(o));
    count.set(ref.uid, (count.get(ref.uid) ?? 0) + 1);
  }
  const of = (t: KubeObject) => count.get(t.metadata?.uid ?? "") ?? 0;
  return {
    duplicates: tasks.filter((t) => of(t) > 1).map(key),
    lost: tasks.filter((t) => of(t) === 0).map(key),
    orphans,
  };
}
