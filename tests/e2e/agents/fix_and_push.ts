// The product's main path, for any shipped agent CLI: from task.md and a Git
// context to a pushed branch, read back from the git server, with the usage
// the model server reported in the Task's status. The push goes through the
// pod's Git proxy sidecar (docs/git-proxy.md): first the CLI's shell looks for
// the token everywhere a prompt injection could, then tries to push to
// another repository of the same host, directly and through the proxy.
import assert from "assert";
import { fixAndPushScript, PROJECT_DIR } from "../../../localcluster/demo_project.ts";
import { git } from "../../../localcluster/git_server.ts";
import { agentLog } from "../real_node.ts";
import type { HarnessOptions, Json } from "../../integration/task/harness.ts";
import type { CliCase } from "./cli_cases.ts";
import { startWorld } from "./world.ts";

/** The git server's token: kt- and a UUID (localcluster/git_server.ts). */
const TOKEN_RE = "kt-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
// No command substitution (Gemini CLI's shell tool refuses it) and no `cd` (a
// CLI's shell keeps its working directory for the commands after).
const count = (what: string, command: string) =>
  `${command} | grep -Ec '${TOKEN_RE}' | sed 's/^/token-like in ${what}: /'`;
/** Every mount but the root filesystem and the kernel's (the image has sed and grep, no awk or cut). */
const MOUNTS = "sed 's/^[^ ]* \\([^ ]*\\) .*/\\1/' /proc/self/mounts | " +
  "grep -vE '^/$|^/(proc|sys|dev)' | while read -r m; do";
/** Everything a prompt injection could read: the environment, git's config, every mounted file. */
const LOOK_FOR_TOKEN = [
  // A token-like string the same grep must find: the search itself works.
  count("control", "echo kt-00000000-0000-4000-8000-000000000000"),
  count("env", "env"),
  // cat's own environ: what any process the shell starts inherits.
  count("environ", "cat /proc/self/environ | tr '\\0' '\\n'"),
  count("git config", `git -C ${PROJECT_DIR} config -l`),
  count("mounted files", `${MOUNTS} grep -rhoE '${TOKEN_RE}' "$m" 2>/dev/null; done`),
  // The same walk finds task.md: it reads the mounted files.
  `${MOUNTS} grep -rl 'Make the tests of the calc project' "$m" 2>/dev/null; done | grep -c . | ` +
  "sed 's/^/task.md in mounted files: /'",
  `git -C ${PROJECT_DIR} config -l | grep -i insteadof`,
].join("; ");
/** Pushes to another repository of the same host: directly (no credential) and through the proxy. */
const PUSH_ELSEWHERE = [
  "export GIT_TERMINAL_PROMPT=0",
  // The URL as configured (`git remote get-url` would give the proxy's, rewritten by insteadOf).
  `git -C ${PROJECT_DIR} config --get remote.origin.url | sed 's#/[^/]*$#/other.git#' | ` +
  `while read -r other; do git -C ${PROJECT_DIR} push -q "$other" HEAD:refs/heads/stolen; ` +
  'echo "direct-push-exit=$?"; done',
  `git -C ${PROJECT_DIR} push -q http://127.0.0.1:7070/0/../../other.git HEAD:refs/heads/stolen; ` +
  'echo "climbing-push-exit=$?"',
  `git -C ${PROJECT_DIR} push -q http://127.0.0.1:7070/1 HEAD:refs/heads/stolen; ` +
  'echo "index-push-exit=$?"',
].join("; ");

/** Returns the Task as it completed (harness: where the operator runs, see startWorld). */
export async function fixAndPush(c: CliCase, harness: HarnessOptions = {}): Promise<Json> {
  const marker = `MARK-${c.cli}-${crypto.randomUUID().slice(0, 8)}`;
  const base = fixAndPushScript(marker, "fix");
  const script = {
    marker,
    turns: [
      { text: "First, what can I read?", shell: LOOK_FOR_TOKEN },
      { shell: PUSH_ELSEWHERE },
      ...base.turns,
    ],
  };
  const w = await startWorld(c, [script], harness);
  try {
    // The repository the agent must not reach: the same host, public to fetch.
    await w.gitServer.addRepository("other", { "README.md": "someone else's\n" });
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
    // The token was nowhere the CLI's shell looked, and the pushes elsewhere were refused.
    const seen = JSON.stringify(mine.map((r) => r.body));
    const found = (what: string) =>
      Number(seen.match(new RegExp(`token-like in ${what}: (\\d+)`))?.[1] ?? -1);
    assert.equal(found("control"), 1, "the search finds a token-like string");
    assert.ok(
      Number(seen.match(/task\.md in mounted files: (\d+)/)?.[1] ?? 0) >= 1,
      "the search reads the mounted files",
    );
    for (const what of ["env", "environ", "git config", "mounted files"]) {
      assert.equal(found(what), 0, `a token in the agent container's ${what}`);
    }
    assert.ok(
      !(seen + log).includes(w.gitServer.token),
      "the git server's token reached the model",
    );
    assert.match(seen, /insteadof=https:/i, "git config -l shows the proxy's insteadOf");
    for (const push of ["direct", "climbing", "index"]) {
      const exit = Number(seen.match(new RegExp(`${push}-push-exit=(\\d+)`))?.[1] ?? 0);
      assert.notEqual(exit, 0, `the ${push} push to another repository was refused`);
    }
    await assert.rejects(w.gitServer.clone("other", "stolen"), /stolen/);
    assert.ok(mine.length >= script.turns.length, `${mine.length} scripted requests`);
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
