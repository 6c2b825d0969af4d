// A Task's budget: its own, else its Agent's default, never above the Agent's
// maxBudget. The operator checks the bound before the Job; the gateway reads
// the same effective budget to enforce it on every call.
import type { Agent, Budget, Task } from "../../api/v1alpha1/index.ts";
import type { Problem } from "./checks.ts";

/** The budget in force for `task` run by `agent`; undefined: no limit. */
export function effectiveBudget(
  task: Pick<Task, "spec">,
  agent: Pick<Agent, "spec">,
): Budget | undefined {
  return task.spec.budget ?? agent.spec.budget;
}

/** A dollar amount as whole micro-dollars (the API allows at most 6 decimals). */
export function microUSD(amount: string): number {
  const [whole, fraction = ""] = amount.split(".");
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}

/** Why the Task's budget is beyond what its Agent allows, or undefined. */
export function budgetProblem(task: Task, agent: Agent): Problem | undefined {
  const asked = task.spec.budget
    ? "spec.budget"
    : agent.spec.budget || agent.spec.maxBudget
    ? `Agent "${agent.metadata.name}" spec.budget/maxBudget`
    : undefined;
  if (asked && !agent.spec.modelProvider) {
    // Only calls through the gateway are counted: the budget would be a promise nobody
    // keeps (the CRD refuses it on the Agent; an Agent admitted without that rule too).
    return {
      reason: "BudgetNotEnforceable",
      message: `${asked} needs an Agent with a modelProvider (the model gateway counts ` +
        `the calls), and Agent "${agent.metadata.name}" names none`,
    };
  }
  const max = agent.spec.maxBudget;
  if (!max) return undefined;
  const budget = effectiveBudget(task, agent);
  const field = task.spec.budget
    ? "spec.budget"
    : `Agent "${agent.metadata.name}" spec.budget (the Task sets none)`;
  const limit = [
    max.costUSD !== undefined ? `costUSD "${max.costUSD}"` : "",
    max.tokens !== undefined ? `tokens ${max.tokens}` : "",
  ].filter(Boolean).join(", ");
  const refuse = (what: string): Problem => ({
    reason: "AgentLimitExceeded",
    message: `${what}; Agent "${agent.metadata.name}" allows at most maxBudget ${limit}: ` +
      `ask for at most that`,
  });
  if (max.costUSD !== undefined) {
    if (budget?.costUSD === undefined) return refuse(`${field} sets no costUSD`);
    if (microUSD(budget.costUSD) > microUSD(max.costUSD)) {
      return refuse(`${field} costUSD "${budget.costUSD}" is more than allowed`);
    }
  }
  if (max.tokens !== undefined) {
    if (budget?.tokens === undefined) return refuse(`${field} sets no tokens`);
    if (budget.tokens > max.tokens) {
      return refuse(`${field} tokens ${budget.tokens} is more than allowed`);
    }
  }
  return undefined;
}
