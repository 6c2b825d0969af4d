// ContextGrant: a namespace's consent to let Tasks and Agents of other
// namespaces use its Contexts. It lives in the namespace that owns the
// Contexts, so only who may write there can share them (as Gateway API's
// ReferenceGrant lives beside what it exposes).
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { namespaceName, objectName } from "./validation.ts";

export const MAX_GRANT_ENTRIES = 64;

export const contextGrantSpec = z.object({
  namespaces: z.array(namespaceName("namespaces[]")).min(1).max(MAX_GRANT_ENTRIES).describe(
    "Namespaces whose Tasks and Agents may use the Contexts below (at most 64).",
  ).meta({ "x-kubernetes-list-type": "set" }),
  contexts: z.array(objectName("contexts[]")).max(MAX_GRANT_ENTRIES).optional().describe(
    "Names of the Contexts in this namespace that are shared (at most 64). " +
      "Left out, every Context of this namespace is shared, and the ConfigMaps they name.",
  ).meta({ "x-kubernetes-list-type": "set" }),
});
export type ContextGrantSpec = z.infer<typeof contextGrantSpec>;

export const contextGrant = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: contextGrantSpec,
});
export type ContextGrant = z.infer<typeof contextGrant>;
