// Whether a namespace lets another use one of its Contexts. Pure: the caller
// hands in the ContextGrants of the Context's namespace (from the cache).
import { contextGrant } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";

/**
 * True when one of `grants` (all in the Context's namespace) lists
 * `fromNamespace` and either lists `contextName` or shares every Context.
 * A grant that does not parse grants nothing.
 */
export function grantsAccess(
  grants: KubeObject[],
  contextName: string,
  fromNamespace: string,
): boolean {
  return grants.some((raw) => {
    const parsed = contextGrant.safeParse(raw);
    if (!parsed.success) return false;
    const { namespaces, contexts } = parsed.data.spec;
    return namespaces.includes(fromNamespace) &&
      (contexts === undefined || contexts.includes(contextName));
  });
}
