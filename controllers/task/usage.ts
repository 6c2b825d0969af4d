// Which usage a finished Task keeps. Through the model gateway, the gateway's
// count (written while the Task ran) is the truth and the agent's own figures
// are kept beside it as a cross-check; otherwise the agent's report is all
// there is.
import type { TaskUsage } from "../../api/v1alpha1/index.ts";

export function finalUsage(
  current: TaskUsage | undefined,
  reported: TaskUsage | undefined,
): TaskUsage | undefined {
  if (current?.source === "Gateway") {
    if (!reported) return current;
    const { inputTokens, outputTokens, costUSD } = reported;
    const agentReported = {
      ...(inputTokens !== undefined ? { inputTokens } : {}),
      ...(outputTokens !== undefined ? { outputTokens } : {}),
      ...(costUSD !== undefined ? { costUSD } : {}),
    };
    return Object.keys(agentReported).length ? { ...current, agentReported } : current;
  }
  return reported ? { ...reported, source: "Agent" } : current;
}
