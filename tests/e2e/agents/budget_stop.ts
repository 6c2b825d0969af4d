// A budget that holds a run's first turn and not its second, for any shipped
// CLI through the model gateway on the real node: the gateway forwards the
// first request, refuses the next one in the CLI's own protocol (never
// forwarded), the CLI shows the refusal, and the operator ends the Task
// Failed/BudgetExceeded with the gateway's usage at that moment and an Event;
// the push the script would have made later never happens.
import assert from "assert";
import { fixAndPushScript, PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { type Script, toolResultsOf } from "../../../localcluster/model_server/mod.ts";
import { condition } from "../../integration/task/harness.ts";
import { agentLog } from "../real_node.ts";
import type { GatewayCase } from "./gateway_cases.ts";
import { type GatewayRun, transcriptOf } from "./through_gateway.ts";

const SHOW = !!Deno.env.get("KUBETASK_E2E_SHOW_LOGS");

// The budget. The gateway reserves a request's worst case (its body's bytes as input tokens plus
// its max output tokens, or the provider's default of 64,000 when it sets none) on top of what
// the Task spent: the first turn goes through when its worst case fits, a later one is refused
// when spent + its worst case does not. A CLI's request sizes are not ours to fix (system prompt,
// tool schemas, the date), so the scripted first answer reports a usage of our choosing instead:
// BUDGET - MARGIN input tokens. The first request then needs only its worst case (some 10-100 KB
// of body plus its output limit, far under 1,000,000) to fit, and any later one is refused as
// long as its worst case is over MARGIN tokens, which every shipped CLI's is (a request offering
// tools is over 10 KB; the output limits are 32,000 or more). No probe run, no measured sizes.
const BUDGET = 1_000_000;
const MARGIN = 10_000;

/** The Task the budget stops, and its script: fix-and-push, the first answer reporting BUDGET - MARGIN. */
export const BUDGET_TASK = "halted";

export function budgetStopScript(marker: string): Script {
  const script = fixAndPushScript(marker, BUDGET_TASK);
  script.turns[0] = { ...script.turns[0], usage: { inputTokens: BUDGET - MARGIN } };
  return script;
}

/** Whether a request body offers the model tools (a CLI's compaction of its history offers none). */
function offersTools(body: unknown): boolean {
  const b = body as { tools?: unknown[] } | undefined;
  return Array.isArray(b?.tools) && b.tools.length > 0;
}

/** Runs the budget Task on `run` (its Agent `agentName`) and checks how it ended. */
export async function budgetStopsMidRun(
  run: GatewayRun,
  c: GatewayCase,
  agentName: string,
  marker: string,
): Promise<void> {
  const { w, h } = run;
  const task = BUDGET_TASK;
  await h.context(`${task}-src`, { type: "Git", git: { repository: run.url, ref: "main" } });
  await h.task(task, {
    agentRef: agentName,
    description: `Make the tests of the calc project pass (${marker}).`,
    contexts: [{ name: `${task}-src`, mountPath: PROJECT_DIR }],
    budget: { tokens: BUDGET },
  });
  const done = await h.waitForPhase(task, "Failed", 240_000).catch(async (err) => {
    throw new Error(`${err}\n${await agentLog(h, task).catch(() => "")}`);
  });
  const log = await agentLog(h, task);
  const stopped = condition(done, "Succeeded");
  assert.equal(stopped.reason, "BudgetExceeded", `${stopped.message}\n${log}`);
  const refusal = new RegExp(
    `KubeTask budget exhausted: Task ${task} used \\d+ of ${BUDGET} tokens`,
  );
  assert.match(stopped.message, refusal);
  assert.match(done.status.usage.budgetExceeded, refusal);
  // The CLI's own output (its events as the entrypoint prints them, or its stderr) has the text,
  // unless the operator's stop (SIGTERM, at once on the gateway's mark) came first: a race the
  // operator does not yet leave the CLI time for (seen once, OpenCode under a load of 30; the
  // refusal it got is in the transcript, checked below).
  const killedFirst = new RegExp(`^\\[kubetask-agent\\] ${c.cli} exited with code 143$`, "m");
  if (killedFirst.test(log) && !refusal.test(log)) {
    console.error(`[e2e] ${c.cli} was stopped before it showed the refusal (exit 143)`);
  } else {
    assert.match(log, refusal, `${c.cli} did not show the refusal:\n${log}`);
  }
  const events = await h.eventsFor(task);
  assert.ok(events.some((e) => /BudgetExceeded/.test(e)), events.join("\n"));

  // The model server answered the first turn alone; the Task's usage is the gateway's count of
  // it at the moment of the stop, equal to what the server reported.
  const turns = w.model.requests.filter((r) => r.marker === marker && r.turn !== undefined);
  assert.deepEqual([...new Set(turns.map((r) => r.turn))], [0], "only the first turn forwarded");
  const served = w.model.usage(marker);
  assert.equal(served.inputTokens, BUDGET - MARGIN);
  assert.equal(done.status.usage.source, "Gateway");
  assert.equal(done.status.usage.inputTokens, served.inputTokens);
  assert.equal(done.status.usage.outputTokens, served.outputTokens);

  // What was refused carried the first tool result on its way back (the second turn, or a
  // compaction of the history so far, as Claude Code and Codex ask after a first answer of
  // 990,000 tokens), kept in the transcript with the message the CLI got; how often the CLI asked
  // again is its own retry.
  const records = await transcriptOf(run, task);
  const refused = records.filter((r) => r.refused);
  const turnOfRecord = (r: (typeof records)[number]) => toolResultsOf(r.path, r.request) ?? -1;
  assert.ok(
    refused.some((r) => turnOfRecord(r) === 1 && refusal.test(r.refused!)),
    JSON.stringify(records.map((r) => [r.path, r.status, turnOfRecord(r), r.refused])),
  );

  // Nothing pushed: no output, and the branch is not on the git server.
  assert.equal(done.status.outputs, undefined, "nothing pushed");
  await assert.rejects(run.gitServer.clone(run.project, `kubetask/${task}`));
  if (SHOW) {
    console.error(`[e2e] ${c.cli} halted mid-run: ${JSON.stringify(done.status.usage)}`);
    console.error(`[e2e] ${c.cli} condition: ${stopped.message}`);
    console.error(
      `[e2e] ${c.cli} refusals in the transcript: ${
        JSON.stringify(
          refused.map((r) => [r.path, r.status, turnOfRecord(r), offersTools(r.request)]),
        )
      }`,
    );
    console.error(
      `[e2e] ${c.cli} log:\n${
        log.split("\n").filter((l) => /budget|exited|error/i.test(l)).join("\n")
      }`,
    );
  }
}
