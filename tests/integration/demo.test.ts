// The README's first command, end to end: `deno task demo --once` brings up its
// own control plane, runs the operator and takes its Task to Completed: Claude
// Code on the real node where there is one, else the example on the simulated node.
import assert from "assert";
import { repoRoot } from "../../localcluster/paths.ts";

Deno.test("deno task demo takes its Task to Completed", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "localcluster/demo.ts", "--once"],
    cwd: repoRoot,
    // Named after the run's cluster: two checkouts testing side by side do not share it.
    env: { KUBETASK_DEMO_CLUSTER: `${Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test"}-demo` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
  assert.match(stdout, /^final phase: Completed$/m);
  if (/^real node /m.test(stdout)) {
    // Claude Code really ran: its tool calls, the branch on the git server, the usage.
    assert.match(stdout, /fix-calc\s+Running/);
    assert.match(stdout, /fix-calc\s+Completed\s+claude-code\s+fix-calc/);
    assert.match(stdout, /^\[kubetask-agent\] tool Bash: cd \/workspace\/calc && sh test\.sh$/m);
    assert.match(stdout, /^\[kubetask-agent\] tool result: PASS add 2 3 = 5$/m);
    assert.match(
      stdout,
      /^the git server has branch kubetask\/fix-calc:\ncommit [0-9a-f]{40}\nKubeTask Agent: Fix add\.sh/m,
    );
    assert.match(stdout, /^status\.usage: \{.*"inputTokens":[0-9]+,.*"outputTokens":[0-9]+/m);
  } else {
    assert.match(stdout, /^no real node \(.+\): pods run on the simulated node$/m);
    assert.match(stdout, /update-service-a\s+Pending|update-service-a\s+Running/);
    assert.match(stdout, /update-service-a\s+Completed\s+update-service-a/);
  }
});
