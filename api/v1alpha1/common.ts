// Shared pieces of the kubetask.io/v1alpha1 API.
import { z } from "zod";
import { absolutePath, namespaceName, objectName } from "./validation.ts";

/** A debugging session, not a place to park a pod: at most a day. */
export const MAX_KEEP_ALIVE_SECONDS = 86400;

export const GROUP = "kubetask.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Standard Kubernetes metadata; the apiserver validates it, so keep it open. */
export const objectMeta = z.object({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.looseObject({})).optional(),
  finalizers: z.array(z.string()).optional(),
}).loose();

/** metav1.Condition, as status.conditions of every kind uses it. */
export const condition = z.object({
  type: z.string().describe("Type of condition in CamelCase."),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().describe("Machine-readable reason in CamelCase."),
  message: z.string().optional().describe("Human-readable details."),
  lastTransitionTime: z.string().describe("When the condition last changed status."),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof condition>;

/** A reference to a Context CRD and where its content goes. */
export const contextMount = z.object({
  name: objectName("contexts[].name").describe("Name of the Context."),
  namespace: namespaceName("contexts[].namespace").optional().describe(
    "Namespace of the Context; defaults to the Task's namespace.",
  ),
  mountPath: absolutePath("mountPath", { allowEmpty: true }).optional().describe(
    "Absolute path to mount the content at. Empty: appended to task.md inside <context> tags.",
  ),
});
export type ContextMount = z.infer<typeof contextMount>;

export const humanInTheLoop = z.object({
  enabled: z.boolean().describe("Keep the agent container alive after the agent exits."),
  keepAliveSeconds: z.int32().min(0).max(MAX_KEEP_ALIVE_SECONDS).default(3600).describe(
    "How long the container stays alive after the agent exits (default 3600, at most 86400).",
  ),
});
export type HumanInTheLoop = z.infer<typeof humanInTheLoop>;
