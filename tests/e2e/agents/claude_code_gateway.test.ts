// Claude Code over its budget through the KubeTask model gateway, on the real
// node: the gateway refuses the call the CLI makes (never forwarded), the CLI
// shows the refusal and the Task fails BudgetExceeded with nothing pushed.
// (The fix-and-push run through the gateway, for every CLI: gateway.test.ts.)
import assert from "assert";
import { fixAndPushScript, PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { condition } from "../../integration/task/harness.ts";
import { agentLog, onRealNode } from "../real_node.ts";
import { GATEWAY_CASES } from "./gateway_cases.ts";
import { startGatewayRun } from "./through_gateway.ts";

Deno.test(
  onRealNode(
    "e2e: Claude Code over its budget sees the gateway's refusal; the Task fails BudgetExceeded, nothing pushed",
  ),
  async () => {
    const marker = `MARK-claude-budget-${crypto.randomUUID().slice(0, 8)}`;
    const run = await startGatewayRun(GATEWAY_CASES["claude-code"], [
      fixAndPushScript(marker, "capped"),
    ]);
    const { w, h } = run;
    try {
      const agentName = await run.agent();
      await h.context("capped-src", { type: "Git", git: { repository: run.url, ref: "main" } });
      // Less than one of Claude Code's requests may cost in the worst case.
      await h.task("capped", {
        agentRef: agentName,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: "capped-src", mountPath: PROJECT_DIR }],
        budget: { tokens: 1000 },
      });
      const done = await h.waitForPhase("capped", "Failed", 240_000);
      assert.equal(condition(done, "Succeeded").reason, "BudgetExceeded");
      assert.match(
        condition(done, "Succeeded").message,
        /KubeTask budget exhausted: Task capped used/,
      );
      assert.match(done.status.usage.budgetExceeded, /KubeTask budget exhausted/);
      const log = await agentLog(h, "capped");
      assert.match(log, /KubeTask budget exhausted/, "the CLI saw the refusal");
      assert.equal(w.model.requests.filter((r) => r.marker === marker).length, 0, "none forwarded");
      assert.equal(done.status.outputs, undefined, "nothing pushed");
      const events = await h.eventsFor("capped");
      assert.ok(events.some((e) => /BudgetExceeded/.test(e)), events.join("\n"));
      if (Deno.env.get("KUBETASK_E2E_SHOW_LOGS")) {
        console.error(
          `[e2e] BudgetExceeded Task: ${JSON.stringify(done.status, null, 1).slice(0, 2500)}`,
        );
      }
    } finally {
      await run.close();
    }
  },
);
