// The README's first command, end to end: `deno task demo --once` brings up its
// own control plane, runs the operator and takes the example Task to Completed.
import assert from "assert";
import { repoRoot } from "../../localcluster/paths.ts";

Deno.test("deno task demo takes the example Task to Completed", async () => {
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
  assert.match(stdout, /update-service-a\s+Pending|update-service-a\s+Running/);
  assert.match(stdout, /update-service-a\s+Completed\s+update-service-a/);
  assert.match(stdout, /update-service-a\s+Complete\s+1\/1/);
  assert.match(stdout, /^final phase: Completed$/m);
  if (/^real node /m.test(stdout)) {
    // The agent process really ran and printed the task.md it was given.
    assert.match(
      stdout,
      /^=== task\.md ===\nUpdate dependencies to latest versions\.\nRun tests and create PR\.\n/m,
    );
  } else {
    assert.match(stdout, /^no real node \(.+\): pods run on the simulated node$/m);
  }
});
