// CronTask: creates Tasks on a cron schedule, as CronJob creates Jobs.
import { z } from "zod";
import { condition, objectMeta } from "./common.ts";
import { taskSpec } from "./task.ts";
import { celRules } from "./validation.ts";

export const CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"] as const;
export const concurrencyPolicy = z.enum(CONCURRENCY_POLICIES);
export type ConcurrencyPolicy = z.infer<typeof concurrencyPolicy>;

/** Bounds the regex match below (CEL cost grows with string length). */
const MAX_SCHEDULE_LENGTH = 256;
// Only the shape is checked here (5 fields or a macro, what the controller's
// parser accepts); the parser reports anything subtler as InvalidSchedule.
const SCHEDULE_SHAPE =
  "^\\\\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\\\\S+(\\\\s+\\\\S+){4})\\\\s*$";

export const taskTemplateSpec = z.object({
  metadata: z.object({
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }).optional().describe("Labels and annotations copied to each created Task."),
  spec: taskSpec,
});

export const cronTaskSpec = z.object({
  schedule: z.string().min(1).max(MAX_SCHEDULE_LENGTH).describe(
    'Cron expression, e.g. "0 9 * * *", or a macro such as @hourly.',
  ).meta(celRules({
    rule: `self.matches('${SCHEDULE_SHAPE}')`,
    message: 'schedule must be a cron expression with 5 fields, e.g. "0 9 * * *" ' +
      "(minute hour day-of-month month day-of-week), or a macro such as @hourly or @daily",
  })),
  timeZone: z.string().optional().describe("IANA time zone for the schedule (default UTC)."),
  startingDeadlineSeconds: z.number().int().min(0).optional().describe(
    "A run missed by more than this many seconds is skipped.",
  ),
  concurrencyPolicy: concurrencyPolicy.default("Forbid").describe(
    "Allow: run concurrently; Forbid: skip a run while one is active; Replace: delete the active one.",
  ),
  suspend: z.boolean().default(false).describe("Stop creating Tasks (running ones continue)."),
  successfulTasksHistoryLimit: z.int32().min(0).default(3).describe(
    "Finished successful Tasks to keep (default 3).",
  ),
  failedTasksHistoryLimit: z.int32().min(0).default(1).describe(
    "Failed Tasks to keep (default 1).",
  ),
  taskTemplate: taskTemplateSpec,
});
export type CronTaskSpec = z.infer<typeof cronTaskSpec>;

export const objectReference = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
});
export type ObjectReference = z.infer<typeof objectReference>;

export const cronTaskStatus = z.object({
  active: z.array(objectReference).optional(),
  lastScheduleTime: z.string().optional(),
  lastSuccessfulTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(condition).optional(),
});
export type CronTaskStatus = z.infer<typeof cronTaskStatus>;

export const cronTask = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: cronTaskSpec,
  status: cronTaskStatus.optional(),
});
export type CronTask = z.infer<typeof cronTask>;
