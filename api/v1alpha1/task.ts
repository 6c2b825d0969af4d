// Task: one AI agent run, executed as a Kubernetes Job.
import { z } from "zod";
import { condition, contextMount, humanInTheLoop, objectMeta } from "./common.ts";
import { MAX_CONTEXTS, MAX_TEXT_LENGTH, objectName } from "./validation.ts";

export const TASK_PHASES = ["Pending", "Running", "Completed", "Failed"] as const;
export const taskPhase = z.enum(TASK_PHASES);
export type TaskPhase = z.infer<typeof taskPhase>;

export const taskSpec = z.object({
  description: z.string().max(MAX_TEXT_LENGTH).optional().describe(
    "Task instruction; becomes the start of task.md (at most 256 KiB).",
  ),
  contexts: z.array(contextMount).max(MAX_CONTEXTS).optional().describe(
    "References to reusable Context resources (at most 32).",
  ),
  agentRef: objectName("agentRef").default("default").describe(
    "Name of the Agent in the Task's namespace.",
  ),
  humanInTheLoop: humanInTheLoop.optional().describe(
    "Keep the container alive after the agent exits (the Agent must set command).",
  ),
});
export type TaskSpec = z.infer<typeof taskSpec>;

export const taskStatus = z.object({
  phase: taskPhase.optional(),
  jobName: z.string().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(condition).optional(),
});
export type TaskStatus = z.infer<typeof taskStatus>;

export const task = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: taskSpec,
  status: taskStatus.optional(),
});
export type Task = z.infer<typeof task>;
