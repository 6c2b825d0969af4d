// The controllers main.ts runs, built with the settings the operator's flags give.
import type { Controller } from "./runtime/types.ts";
import { cronTaskController } from "./crontask/controller.ts";
import type { JobSettings } from "./task/job.ts";
import { createTaskController } from "./task/controller.ts";
import { createEgressController } from "./egress/controller.ts";

export function createControllers(settings: JobSettings): Controller[] {
  return [createTaskController(settings), cronTaskController, createEgressController(settings)];
}
