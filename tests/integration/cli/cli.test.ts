// The command line against the local control plane (simulated node): create
// and detach, list, stop, describe, and bad usage. Log streaming is proven on
// the real node (tests/e2e/cli.test.ts).
import assert from "assert";
import { eventually } from "../env.ts";
import { condition, TaskHarness } from "../task/harness.ts";
import { cli, cliInBackground } from "./run_cli.ts";

const HOLD = { podSpec: { labels: { "sim.kubetask.io/outcome": "hold" } } };

Deno.test("cli: run --detach, list, describe and stop", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", HOLD);
    await h.context("guide", { type: "Inline", inline: { content: "Be brief." } });
    const created = await cli(
      "run",
      "Fix the flaky test",
      "-n",
      h.ns,
      "--name",
      "flaky",
      "--context",
      "guide",
      "--timeout",
      "2h",
      "--detach",
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, "flaky\n");
    const task = await h.get("task", "flaky");
    assert.deepEqual(task.spec.contexts, [{ name: "guide" }]);
    assert.equal(task.spec.timeout, "2h");
    await h.waitForPhase("flaky", "Running");

    const list = await cli("list", "-n", h.ns);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+PHASE\s+AGENT\s+AGE\s+DURATION\s+TOKENS\s+COST\s+RESULT$/m);
    assert.match(list.stdout, /^flaky\s+Running\s+/m);

    const stopped = await cli("stop", "flaky", "-n", h.ns);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, "task/flaky stop requested\n");
    const done = await h.waitForPhase("flaky", "Failed");
    assert.equal(condition(done, "Succeeded").reason, "Stopped");

    const described = await cli("describe", "flaky", "-n", h.ns);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Phase:\s+Failed \(Stopped\): /m);
    assert.match(described.stdout, /^ {2}Normal Stopped: /m);
    assert.match(described.stdout, /^task\.md:\n {2}Fix the flaky test\n/m);
  } finally {
    await h.cleanup();
  }
});

Deno.test("cli: run follows a Task that waits for its Agent and exits 1 when it fails", async () => {
  const h = await TaskHarness.start();
  try {
    const run = cliInBackground("run", "Doomed", "-n", h.ns, "--name", "doomed", "--agent", "late");
    // What the user sees: the CLI says why the Task waits, before the Agent exists.
    await eventually(
      "the CLI reports the missing Agent",
      () => Promise.resolve(/Pending \(AgentNotFound\)/.test(run.stderrSoFar())),
      60_000,
    );
    await h.agent("late", { podSpec: { labels: { "sim.kubetask.io/outcome": "fail" } } });
    const result = await run.done();
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /task\/doomed: Pending \(AgentNotFound\): Agent "late" not found/);
    assert.match(result.stderr, /task\/doomed: Failed \(JobFailed\): .*\(exit code 1\)$/m);
    assert.equal(result.stderr.match(/: Failed /g)?.length, 1, "the end is said once");
  } finally {
    await h.cleanup();
  }
});

Deno.test("cli: Ctrl-C during run says the Task keeps running and how to follow or stop it", async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent("default", HOLD);
    const run = cliInBackground("run", "Long work", "-n", h.ns, "--name", "long");
    await eventually(
      "the CLI follows the running Task",
      () => Promise.resolve(/task\/long: Running/.test(run.stderrSoFar())),
      60_000,
    );
    run.kill("SIGINT");
    const result = await run.done();
    assert.equal(result.code, 130, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`task/long keeps running in namespace ${h.ns}: Ctrl-C only stopped following it`),
    );
    assert.match(result.stderr, new RegExp(`kubectl kubetask logs long -n ${h.ns} -f`));
    assert.match(result.stderr, new RegExp(`kubectl kubetask stop long -n ${h.ns}`));
    const task = await h.get("task", "long");
    assert.equal(task.status.phase, "Running", "Ctrl-C does not stop the Task");
    assert.equal(task.metadata.annotations?.["kubetask.io/stop"], undefined);
  } finally {
    await h.cleanup();
  }
});

Deno.test("cli: bad usage exits 2 with a message; a missing Task exits 1 naming it", async () => {
  const h = await TaskHarness.start();
  try {
    const none = await cli("run", "-n", h.ns);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /run needs a description/);
    const flag = await cli("list", "--colour");
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--colour'/);
    const invalid = await cli("run", "x", "-n", h.ns, "--timeout", "soon", "--detach");
    assert.equal(invalid.code, 2, "the apiserver's validation is bad usage too");
    assert.match(invalid.stderr, /timeout must be a duration/);
    const missing = await cli("stop", "ghost", "-n", h.ns);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`Task "ghost" not found in namespace "${h.ns}"`));
  } finally {
    await h.cleanup();
  }
});
