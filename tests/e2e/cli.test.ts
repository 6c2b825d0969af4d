// The command line with a real agent process: `run` streams what the agent
// prints (also after waiting in the queue) and mirrors the outcome in its exit
// code; `logs -f` follows a running agent to its end.
import assert from "assert";
import { eventually, kubectl } from "../integration/env.ts";
import { TaskHarness } from "../integration/task/harness.ts";
import { cli, cliInBackground } from "../integration/cli/run_cli.ts";
import { onRealNode, realNodeAgent } from "./real_node.ts";

Deno.test(
  onRealNode("e2e cli: run streams the agent's log; exit 0 when Completed, 1 when Failed"),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent("default", realNodeAgent({ command: ["/usr/local/bin/echo-agent", "0"] }));
      await h.agent("fails", realNodeAgent({ command: ["/usr/local/bin/echo-agent", "3"] }));
      const ok = await cli("run", "Say hello.", "-n", h.ns, "--name", "hello");
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(
        ok.stdout,
        /^=== task\.md ===\nSay hello\.\n/m,
        "the agent's own output, streamed",
      );
      assert.match(ok.stdout, /^TASK_NAME=hello$/m);
      assert.match(ok.stderr, /^task\/hello: Completed \(JobSucceeded\): .*\(exit code 0\)$/m);

      const bad = await cli("run", "Break.", "-n", h.ns, "--name", "broken", "--agent", "fails");
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stdout, /^=== task\.md ===\nBreak\.\n/m);
      assert.match(bad.stderr, /^task\/broken: Failed \(JobFailed\): .*\(exit code 3\)$/m);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode("e2e cli: run says why it waits in the queue, then streams once it starts"),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent(
        "default",
        realNodeAgent({
          maxConcurrentTasks: 1,
          command: ["sh", "-c", 'echo "working on: $(head -1 /workspace/task.md)"; sleep 4'],
        }),
      );
      const first = cliInBackground("run", "first", "-n", h.ns, "--name", "first");
      await h.waitForPhase("first", "Running", 120_000);
      const second = cliInBackground("run", "second", "-n", h.ns, "--name", "second");
      await eventually(
        "the second run reports the queue",
        () =>
          Promise.resolve(/task\/second: Queued \(AgentAtCapacity\)/.test(second.stderrSoFar())),
        60_000,
      );
      const [a, b] = await Promise.all([first.done(), second.done()]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stdout, /^working on: second$/m);
      assert.match(b.stderr, /Queued \(AgentAtCapacity\): Agent "default" runs at most 1 Task/);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(onRealNode("e2e cli: logs -f follows a running agent to its end"), async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent(
      "default",
      realNodeAgent({ command: ["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done"] }),
    );
    await kubectl(
      ["create", "-n", h.ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "Task",
        metadata: { name: "ticker" },
        spec: { description: "tick" },
      }),
    );
    const logs = await cli("logs", "ticker", "-f", "-n", h.ns);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, "tick 1\ntick 2\ntick 3\n");
  } finally {
    await h.cleanup();
  }
});
