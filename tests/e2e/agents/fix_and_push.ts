// The product's main path, for any shipped agent CLI: from task.md and a Git
// context to a pushed branch, read back from the git server, with the usage
// the model server reported in the Task's status.
import assert from "assert";
import { fixAndPushScript, PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { git } from "../../../localcluster/git_server.ts";
import { agentLog } from "../real_node.ts";
import type { HarnessOptions, Json } from "../../integration/task/harness.ts";
import type { CliCase } from "./cli_cases.ts";
import { startWorld } from "./world.ts";

/** Returns the Task as it completed (harness: where the operator runs, see startWorld). */
export async function fixAndPush(c: CliCase, harness: HarnessOptions = {}): Promise<Json> {
  const marker = `MARK-${c.cli}-${crypto.randomUUID().slice(0, 8)}`;
  const w = await startWorld(c, [fixAndPushScript(marker, "fix")], harness);
  try {
    await w.agent();
    await w.task("fix", marker);
    const done = await w.h.waitForPhase("fix", "Completed", 240_000).catch(async (err) => {
      throw new Error(`${err}\n${await agentLog(w.h, "fix").catch(() => "")}`);
    });
    const log = await agentLog(w.h, "fix");
    // The CLI's own tool calls, as the entrypoint printed them, with their results.
    const line = (command: string) => `[kubetask-agent] ${c.toolLine(command)}\n`;
    assert.ok(log.includes(line(`cd ${PROJECT_DIR} && sh test.sh`)), log);
    assert.match(log, /FAIL add 2 3 = -1, want 5/);
    assert.match(log, /\[kubetask-agent\] tool result.*PASS add 2 3 = 5/);
    assert.match(log, /\[kubetask-agent\] tool .*git push -q origin HEAD/);

    // What the git server has: the branch, at the commit the Task reports, with the fix.
    const clone = await w.gitServer.clone(w.project, "kubetask/fix");
    const head = await git(clone, "rev-parse", "HEAD");
    assert.deepEqual(done.status.outputs, { branch: "kubetask/fix", commit: head });
    assert.match(await Deno.readTextFile(`${clone}/add.sh`), /\$\(\( \$1 \+ \$2 \)\)/);
    const test = await new Deno.Command("sh", { args: ["test.sh"], cwd: clone }).output();
    assert.equal(new TextDecoder().decode(test.stdout), "PASS add 2 3 = 5\n");
    assert.equal(
      await git(clone, "log", "-1", "--format=%an <%ae>: %s"),
      "KubeTask Agent <agent@kubetask.io>: Fix add.sh: add, do not subtract",
    );

    // What the model saw: task.md's text, and the Secret's key on every request.
    const mine = w.model.requests.filter((r) => r.marker === marker);
    assert.ok(mine.length >= 4, `${mine.length} scripted requests`);
    assert.ok(JSON.stringify(mine[0].body).includes("Make the tests of the calc project pass"));
    assert.ok(mine.every((r) => c.keyOf(r) === w.key), "the Secret's key on every request");

    // Usage as the server reported it; the summary is the CLI's final answer.
    const served = w.model.usage(marker);
    assert.equal(done.status.usage.inputTokens, served.inputTokens);
    assert.equal(done.status.usage.outputTokens, served.outputTokens);
    assert.equal(
      done.status.summary,
      "Fixed add.sh (it subtracted); test.sh passes. Pushed branch kubetask/fix.",
    );
    assert.equal(done.status.exitCode, 0);
    if (Deno.env.get("KUBETASK_E2E_SHOW_LOGS")) {
      console.error(
        `[e2e] ${c.cli}: the git server has kubetask/fix at ${head}; ` +
          `status.usage ${JSON.stringify(done.status.usage)}`,
      );
    }
    return done;
  } finally {
    await w.close();
  }
}
