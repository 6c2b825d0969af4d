// Claude Code through the KubeTask model gateway, on the real node, where it
// goes wrong: over its budget at once (the gateway refuses the call the CLI
// makes, never forwarded, the CLI shows the refusal and the Task fails
// BudgetExceeded with nothing pushed); and the gateway SIGKILLed in the middle
// of a streamed answer (the CLI retries, the run completes, nothing counted
// twice). (The fix-and-push run through the gateway, and a budget that stops
// a run after its first turn, for every CLI: gateway.test.ts.)
import assert from "assert";
import { fixAndPushScript, PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { git } from "../../../localcluster/git_server.ts";
import { eventually } from "../../integration/env.ts";
import { condition } from "../../integration/task/harness.ts";
import { agentLog, onRealNode } from "../real_node.ts";
import { GATEWAY_CASES } from "./gateway_cases.ts";
import { startGatewayRun, transcriptOf, turnOfRecord, turnsOf } from "./through_gateway.ts";

const SHOW = !!Deno.env.get("KUBETASK_E2E_SHOW_LOGS");

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

Deno.test(
  onRealNode(
    "e2e: the gateway SIGKILLed mid-stream: Claude Code retries, the run completes, nothing counted twice",
  ),
  async () => {
    const marker = `MARK-claude-kill-${crypto.randomUUID().slice(0, 8)}`;
    // Paced: one event per 500 ms, so a tool turn's answer (about ten events) streams for ~5 s.
    const run = await startGatewayRun(GATEWAY_CASES["claude-code"], [
      fixAndPushScript(marker, "resumed"),
    ], { eventDelayMs: 500, asProcess: true });
    const { w, h, gitServer } = run;
    try {
      const agentName = await run.agent();
      await h.context("resumed-src", { type: "Git", git: { repository: run.url, ref: "main" } });
      await h.task("resumed", {
        agentRef: agentName,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: "resumed-src", mountPath: PROJECT_DIR }],
      });

      // The second turn's answer under way: the status already holds the first turn's usage
      // (written every second), the stream its first event or two.
      const cut = await eventually("the second turn streaming", () => {
        return Promise.resolve(
          w.model.requests.find((r) => r.marker === marker && r.turn === 1 && r.status),
        );
      }, 240_000);
      const before = turnsOf(w.model.requests, marker).filter((r) => r !== cut);
      const counted = before.reduce((n, r) => n + r.usage!.inputTokens, 0);
      await eventually("the first turn's usage on the Task", async () => {
        const t = await h.get("Task", "resumed");
        return t?.status?.usage?.inputTokens === counted;
      }, 3_000);
      await new Promise((r) => setTimeout(r, 700));
      await w.process!.kill();
      const killedAt = Date.now();
      await eventually(
        "the model server saw the stream cut",
        () => Promise.resolve(cut.aborted),
        10_000,
      );
      await w.process!.start();
      const restartedMs = Date.now() - killedAt;

      const done = await h.waitForPhase("resumed", "Completed", 300_000).catch(async (err) => {
        throw new Error(
          `${err}\n${await agentLog(h, "resumed").catch(() => "")}\n${w.process!.log()}`,
        );
      });
      const clone = await gitServer.clone(run.project, "kubetask/resumed");
      assert.deepEqual(done.status.outputs, {
        branch: "kubetask/resumed",
        commit: await git(clone, "rev-parse", "HEAD"),
      });

      // The CLI asked for the second turn again and got it; every turn was answered once more
      // than it was cut.
      const turns = turnsOf(w.model.requests, marker);
      assert.deepEqual(turns.filter((r) => r.aborted), [cut], "one stream cut");
      const answered = turns.filter((r) => !r.aborted);
      assert.deepEqual(answered.map((r) => r.turn), [0, 1, 2, 3]);

      // Nothing counted twice, and the truthful figure for the cut stream: what the gateway
      // settled. The cut answer's usage (its message_start said the input tokens, the gateway
      // metered them) lived in the killed process's memory only, never settled nor written, so
      // status.usage is what the model server reported for the answered turns, exactly: the
      // cut one is missing (counted by the provider, lost by the gateway), the retry once.
      const answeredUsage = answered.reduce(
        (u, r) => ({
          inputTokens: u.inputTokens + r.usage!.inputTokens,
          outputTokens: u.outputTokens + r.usage!.outputTokens,
        }),
        { inputTokens: 0, outputTokens: 0 },
      );
      const served = w.model.usage(marker);
      assert.deepEqual(
        {
          inputTokens: served.inputTokens - cut.usage!.inputTokens,
          outputTokens: served.outputTokens - cut.usage!.outputTokens,
        },
        answeredUsage,
      );
      assert.equal(done.status.usage.source, "Gateway");
      assert.equal(done.status.usage.inputTokens, answeredUsage.inputTokens);
      assert.equal(done.status.usage.outputTokens, answeredUsage.outputTokens);

      // The transcript: each answered turn once, complete, with the usage the server reported;
      // the cut exchange as what the killed gateway could know of it: begun, no end recorded
      // (its record is written when it ends, and the SIGKILL came first), no usage.
      const records = await transcriptOf(run, "resumed");
      const unfinished = records.filter((r) => r.unfinished);
      assert.equal(unfinished.length, 1, JSON.stringify(unfinished));
      assert.equal(unfinished[0].incomplete, true);
      assert.equal(unfinished[0].usage, undefined);
      assert.match(unfinished[0].path, /\/v1\/messages/);
      assert.match(unfinished[0].unfinished!, /no end recorded/);
      const scripted = records.filter((r) =>
        turnOfRecord(r.request) >= 0 && (r.usage?.inputTokens ?? 0) > 0
      );
      assert.deepEqual(
        scripted.map((
          r,
        ) => [
          turnOfRecord(r.request),
          r.status,
          r.incomplete ?? false,
          r.usage!.inputTokens,
          r.usage!.outputTokens,
        ]),
        answered.map((r) => [r.turn, 200, false, r.usage!.inputTokens, r.usage!.outputTokens]),
      );
      assert.match(JSON.stringify(scripted.at(-1)!.response), /Fixed add\.sh/);
      if (SHOW) {
        console.error(
          `[e2e] killed mid-stream, restarted in ${restartedMs} ms; turns ${
            JSON.stringify(turns.map((r) => [r.turn, r.aborted ?? false, r.usage]))
          }`,
        );
        console.error(
          `[e2e] final usage ${JSON.stringify(done.status.usage)}; served ${
            JSON.stringify(served)
          }`,
        );
        console.error(
          `[e2e] transcript ${
            JSON.stringify(
              records.map((
                r,
              ) => [r.path, r.status, turnOfRecord(r.request), r.incomplete ?? false, r.usage]),
            )
          }`,
        );
        console.error(
          `[e2e] the gateway's log after the restart:\n${
            w.process!.log().split("\n").slice(-30).join("\n")
          }`,
        );
        console.error(`[e2e] CLI log:\n${(await agentLog(h, "resumed")).slice(-3000)}`);
      }
    } finally {
      await run.close();
    }
  },
);
