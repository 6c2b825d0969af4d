// Owner references, in one place: how an owned object names its controller,
// how to recognise it, and how its changes map back to the owner's key.
import type { KubeObject, OwnerReference, Request, ResourceType } from "./types.ts";

/** The controller reference an owned object carries (garbage collection cascades). */
export function controllerReference(owner: KubeObject, type: ResourceType): OwnerReference {
  return {
    apiVersion: type.apiVersion,
    kind: type.kind,
    name: owner.metadata?.name ?? "",
    uid: owner.metadata?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The controller reference of `obj` if its controller is of `type`. */
export function controllerOf(obj: KubeObject, type: ResourceType): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((ref) =>
    ref.controller === true && ref.kind === type.kind && ref.apiVersion === type.apiVersion
  );
}

/**
 * True if `owner` (by uid) is the controller of `obj`. A namespaced owner
 * controls only objects of its own namespace, as the garbage collector holds:
 * anyone can write another namespace's uid into a reference.
 */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata?.uid;
  const ns = owner.metadata?.namespace ?? "";
  if (!uid || (ns !== "" && ns !== (obj.metadata?.namespace ?? ""))) return false;
  return (obj.metadata?.ownerReferences ?? []).some((ref) =>
    ref.controller === true && ref.uid === uid
  );
}

/** The owner index's value for an owner: its namespace and uid (a uid alone can be forged). */
export function ownerIndexKey(owner: KubeObject): string {
  return `${owner.metadata?.namespace ?? ""}/${owner.metadata?.uid ?? ""}`;
}

/** The owner index: an object under each of its owners, as if they shared its namespace. */
export function ownerIndexValues(obj: KubeObject): string[] {
  const ns = obj.metadata?.namespace ?? "";
  return (obj.metadata?.ownerReferences ?? []).map((ref) => `${ns}/${ref.uid}`);
}

/** A watch mapper: an owned object → the key of its controller of `type`. */
export function mapToController(kind: string, type: ResourceType) {
  return (obj: KubeObject): Request[] => {
    const ref = controllerOf(obj, type);
    const namespace = obj.metadata?.namespace ?? "";
    return ref ? [{ kind, namespace, name: ref.name }] : [];
  };
}
