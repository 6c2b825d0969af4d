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

/** True if `owner` (by uid) is the controller of `obj`. */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata?.uid;
  return !!uid &&
    (obj.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/** A watch mapper: an owned object → the key of its controller of `type`. */
export function mapToController(kind: string, type: ResourceType) {
  return (obj: KubeObject): Request[] => {
    const ref = controllerOf(obj, type);
    const namespace = obj.metadata?.namespace ?? "";
    return ref ? [{ kind, namespace, name: ref.name }] : [];
  };
}
