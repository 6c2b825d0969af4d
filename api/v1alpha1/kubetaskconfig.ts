// KubeTaskConfig: namespace-level settings; the one named "default" applies.
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { egressMode } from "./egress.ts";

export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 604800;

export const taskLifecycleConfig = z.object({
  ttlSecondsAfterFinished: z.int32().min(0).default(DEFAULT_TTL_SECONDS_AFTER_FINISHED)
    .describe("Seconds a finished Task is kept before deletion (0 disables cleanup)."),
  maxFinishedTasks: z.int32().min(0).optional().describe(
    "Most finished Tasks kept in the namespace; beyond it the oldest are deleted first " +
      "(alongside the TTL). Unset: no limit.",
  ),
});

export const kubeTaskConfigSpec = z.object({
  taskLifecycle: taskLifecycleConfig.optional(),
  defaultEgressMode: egressMode.optional().describe(
    "Egress mode of this namespace's Agents that set no spec.egress.mode (unset: the " +
      "operator's --default-egress).",
  ),
});

export const kubeTaskConfig = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: kubeTaskConfigSpec,
});
export type KubeTaskConfig = z.infer<typeof kubeTaskConfig>;
