// What a Task's phase means, for the controllers and the CLI alike.
import type { TaskPhase } from "../api/v1alpha1/index.ts";

/** Whether a Task in `phase` has finished: Completed or Failed, for good. */
export function isFinishedPhase(phase: TaskPhase | string | undefined): boolean {
  return phase === "Completed" || phase === "Failed";
}
