// Our kinds as the runtime's resource types. They come from the kind registry
// (api/kinds.ts) that also generates the CRDs, so a kind is named once; they
// live here, above the runtime, which knows nothing about Tasks.
import { API_VERSION } from "../api/v1alpha1/index.ts";
import { kindDefinition } from "../api/kinds.ts";
import type { ResourceType } from "./runtime/types.ts";

function kubetaskResource(kind: string): ResourceType {
  const def = kindDefinition(kind);
  return {
    apiVersion: API_VERSION,
    kind: def.kind,
    plural: def.plural,
    namespaced: (def.scope ?? "Namespaced") === "Namespaced",
  };
}

export const TaskResource = kubetaskResource("Task");
export const CronTaskResource = kubetaskResource("CronTask");
export const AgentResource = kubetaskResource("Agent");
export const ContextResource = kubetaskResource("Context");
export const ContextGrantResource = kubetaskResource("ContextGrant");
export const KubeTaskConfigResource = kubetaskResource("KubeTaskConfig");
export const ModelProviderResource = kubetaskResource("ModelProvider");
export const NamespaceBudgetResource = kubetaskResource("NamespaceBudget");
