// kubetask.io/v1alpha1: schemas (the single source of truth), inferred types,
// and the resource types the controllers talk to.
export * from "./common.ts";
export * from "./validation.ts";
export * from "./task.ts";
export * from "./crontask.ts";
export * from "./context.ts";
export * from "./contextgrant.ts";
export * from "./egress.ts";
export * from "./agent.ts";
export * from "./kubetaskconfig.ts";
export * from "./baseline.ts";
export * from "./budget.ts";
export * from "./modelprovider.ts";
export * from "./namespacebudget.ts";
