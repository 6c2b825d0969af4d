// Each shipped agent CLI, the real one in its image, on the real node, doing
// the fix-and-push work through the KubeTask model gateway (through_gateway.ts)
// and, meanwhile in the same world, a second Task whose budget holds its first
// turn only: stopped mid-run, BudgetExceeded, nothing pushed (budget_stop.ts).
import { onRealNode } from "../real_node.ts";
import { budgetStopScript, budgetStopsMidRun } from "./budget_stop.ts";
import { GATEWAY_CASES } from "./gateway_cases.ts";
import { fixAndPushThroughGateway } from "./through_gateway.ts";

for (const c of Object.values(GATEWAY_CASES)) {
  Deno.test(
    onRealNode(
      `e2e: ${c.cli} through the model gateway: no key in the pod, live usage, transcript for its owner only; a 2-turn budget stops it mid-run`,
    ),
    () => {
      const marker = `MARK-${c.cli}-budget-${crypto.randomUUID().slice(0, 8)}`;
      return fixAndPushThroughGateway(c, {
        alongside: {
          scripts: [budgetStopScript(marker)],
          run: (run, agentName) => budgetStopsMidRun(run, c, agentName, marker),
        },
      });
    },
  );
}
