// The controllers main.ts runs. Controller modules add themselves here, e.g.
//   import { taskController } from "./task/controller.ts";
//   export const controllers: Controller[] = [taskController];
import type { Controller } from "./runtime/types.ts";
import { cronTaskController } from "./crontask/controller.ts";
import { taskController } from "./task/controller.ts";

export const controllers: Controller[] = [taskController, cronTaskController];
