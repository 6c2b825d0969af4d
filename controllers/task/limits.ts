// The bounds an Agent sets on the Tasks it runs (maxTimeout,
// maxKeepAliveSeconds). CEL on a Task cannot see its Agent, so the
// controller checks them before anything is created.
import { type Agent, parseDuration, type Task } from "../../api/v1alpha1/index.ts";
import type { Problem } from "./checks.ts";
import { effectiveHumanInTheLoop } from "./job.ts";

const REASON = "AgentLimitExceeded";

/** Which field a value came from: the Task's own, or its Agent's default. */
function fieldOf(agent: Agent, path: string, fromTask: boolean): string {
  return fromTask
    ? `spec.${path}`
    : `Agent "${agent.metadata.name}" spec.${path} (the Task sets none)`;
}

/** Why `task` asks for more than `agent` allows, or undefined. */
export function limitProblem(task: Task, agent: Agent): Problem | undefined {
  const { maxTimeout, maxKeepAliveSeconds } = agent.spec;
  const timeout = task.spec.timeout ?? agent.spec.timeout;
  if (maxTimeout && timeout && parseDuration(timeout) > parseDuration(maxTimeout)) {
    const field = fieldOf(agent, "timeout", task.spec.timeout !== undefined);
    return {
      reason: REASON,
      message: `${field} "${timeout}" is longer than Agent "${agent.metadata.name}" allows ` +
        `(maxTimeout "${maxTimeout}"): ask for at most "${maxTimeout}"`,
    };
  }
  const hitl = effectiveHumanInTheLoop(task, agent);
  if (
    maxKeepAliveSeconds !== undefined && hitl?.enabled &&
    hitl.keepAliveSeconds > maxKeepAliveSeconds
  ) {
    const field = fieldOf(
      agent,
      "humanInTheLoop.keepAliveSeconds",
      task.spec.humanInTheLoop !== undefined,
    );
    return {
      reason: REASON,
      message: `${field} ${hitl.keepAliveSeconds} is more than Agent "${agent.metadata.name}" ` +
        `allows (maxKeepAliveSeconds ${maxKeepAliveSeconds}): ask for at most ` +
        `${maxKeepAliveSeconds}`,
    };
  }
  return undefined;
}
