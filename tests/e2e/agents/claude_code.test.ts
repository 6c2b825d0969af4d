// Claude Code, the real CLI from its npm package, in the image agents/ builds,
// on the real node: it reads task.md, talks to the scripted model server (the
// one test double: the provider's API), runs the tests of a project cloned
// from the local git server, fixes it, commits and pushes a branch with the
// token from the Agent's Secret. Then the failure paths.
import assert from "assert";
import { PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { condition } from "../../integration/task/harness.ts";
import { agentLog, onRealNode } from "../real_node.ts";
import { CLI_CASES } from "./cli_cases.ts";
import { endsMidRun } from "./ends_mid_run.ts";
import { fixAndPush } from "./fix_and_push.ts";
import { startWorld } from "./world.ts";

const CLAUDE = CLI_CASES["claude-code"];

Deno.test(
  onRealNode("e2e: Claude Code fixes a failing test, commits and pushes a branch"),
  async () => {
    await fixAndPush(CLAUDE);
  },
);

Deno.test(
  onRealNode("e2e: Claude Code with a key the model API refuses fails, naming the error"),
  async () => {
    const marker = `MARK-claude-401-${crypto.randomUUID().slice(0, 8)}`;
    const w = await startWorld(CLAUDE, [{
      marker,
      turns: [{ text: "never answered" }],
      failures: [{ at: 0, status: 401, times: Infinity, message: "invalid x-api-key" }],
    }]);
    try {
      await w.agent();
      await w.task("badkey", marker);
      const done = await w.h.waitForPhase("badkey", "Failed", 240_000);
      assert.equal(condition(done, "Succeeded").reason, "JobFailed");
      assert.notEqual(done.status.exitCode, 0);
      assert.match(done.status.summary, /^model API answered 401\n/);
      assert.equal(done.status.outputs, undefined, "nothing was pushed");
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  onRealNode("e2e: Claude Code retries a 429 by itself and completes"),
  async () => {
    const marker = `MARK-claude-429-${crypto.randomUUID().slice(0, 8)}`;
    const w = await startWorld(CLAUDE, [{
      marker,
      turns: [{ shell: `cd ${PROJECT_DIR} && sh test.sh; true` }, { text: "Looked at it." }],
      failures: [{ at: 0, status: 429, times: 1, message: "rate limited" }],
    }]);
    try {
      await w.agent();
      await w.task("busy", marker);
      const done = await w.h.waitForPhase("busy", "Completed", 240_000);
      assert.equal(done.status.summary, "Looked at it.");
      const statuses = w.model.requests.filter((r) => r.marker === marker).map((r) => r.status);
      assert.deepEqual(statuses.slice(0, 2), [429, 200], "refused once, then answered");
      assert.match(await agentLog(w.h, "busy"), /model API answered 429/);
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  onRealNode("e2e: stopping a Task ends Claude Code mid-run and keeps its log"),
  async () => {
    await endsMidRun(CLAUDE, { by: "stop" });
  },
);
