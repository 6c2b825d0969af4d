// Agent pods on a real kubelet: what the agent process actually finds in its
// workspace, proven by what it printed (kubectl logs through the apiserver).
import assert from "assert";
import { eventually, kubectl } from "../integration/env.ts";
import { condition, TaskHarness } from "../integration/task/harness.ts";
import { agentLog, between, onRealNode, realNodeAgent } from "./real_node.ts";

Deno.test(
  onRealNode("e2e: the agent reads the exact task.md: description, Agent then Task contexts"),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.context("org-standards", { type: "Inline", inline: { content: "Use tabs.\n" } });
      await h.context("security", { type: "Inline", inline: { content: "No secrets in logs." } });
      await h.agent("default", realNodeAgent({ contexts: [{ name: "org-standards" }] }));
      await h.task("read", {
        description: "Fix the flaky test.\nThen open a PR.",
        contexts: [{ name: "security" }],
      });
      const task = await h.waitForPhase("read", "Completed", 120_000);
      const log = await agentLog(h, "read");
      const printed = between(log, "=== task.md ===", "=== end task.md ===");
      const cm = await h.get("configmap", "read-context");
      assert.equal(printed, cm.data["task.md"], "the process read what the operator wrote");
      assert.ok(printed.startsWith("Fix the flaky test.\nThen open a PR."));
      assert.ok(printed.indexOf("Use tabs.") < printed.indexOf("No secrets in logs."), printed);
      assert.match(log, /^TASK_NAME=read$/m);
      assert.match(log, new RegExp(`^TASK_NAMESPACE=${h.ns}$`, "m"));
      assert.equal(task.status.exitCode, 0);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode(
    "e2e: ConfigMap key as a file, whole ConfigMap as a directory, binary key, optional missing",
  ),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "guides" },
        data: { "style.md": "Short functions.\n", "review.md": "Two approvals.\n" },
        binaryData: { "logo.bin": btoa(String.fromCharCode(0, 1, 2, 255)) },
      });
      await h.context("style", {
        type: "ConfigMap",
        configMap: { name: "guides", key: "style.md" },
      });
      await h.context("all", { type: "ConfigMap", configMap: { name: "guides" } });
      await h.context("logo", {
        type: "ConfigMap",
        configMap: { name: "guides", key: "logo.bin" },
      });
      await h.context("maybe", {
        type: "ConfigMap",
        configMap: { name: "absent", optional: true },
      });
      await h.agent(
        "default",
        realNodeAgent({
          command: [
            "sh",
            "-c",
            "cat /workspace/style.md; ls /workspace/guides | sort; cat /workspace/guides/review.md; " +
            "od -An -tx1 /workspace/logo.bin; ls /workspace/maybe 2>&1 || echo 'maybe: absent'",
          ],
        }),
      );
      await h.task("files", {
        contexts: [
          { name: "style", mountPath: "/workspace/style.md" },
          { name: "all", mountPath: "/workspace/guides" },
          { name: "logo", mountPath: "/workspace/logo.bin" },
          { name: "maybe", mountPath: "/workspace/maybe" },
        ],
      });
      await h.waitForPhase("files", "Completed", 120_000);
      const log = await agentLog(h, "files");
      assert.match(log, /^Short functions\.$/m);
      assert.match(log, /^logo\.bin\nreview\.md\nstyle\.md$/m);
      assert.match(log, /^Two approvals\.$/m);
      assert.match(log, /^ 00 01 02 ff$/m);
      assert.match(log, /maybe: absent/);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode("e2e: credentials arrive as an env var and as a file with its mode"),
  async () => {
    const h = await TaskHarness.start();
    try {
      await kubectl([
        "create",
        "secret",
        "generic",
        "llm",
        "-n",
        h.ns,
        "--from-literal=api-key=sk-test-123",
        "--from-literal=netrc=machine git.test login bot",
      ]);
      await h.agent(
        "default",
        realNodeAgent({
          command: [
            "sh",
            "-c",
            'echo "API_KEY=$API_KEY"; cat /secrets/netrc; echo; stat -c "mode=%a" /secrets/netrc',
          ],
          credentials: [
            { name: "api", secretRef: { name: "llm", key: "api-key" }, env: "API_KEY" },
            {
              name: "netrc",
              secretRef: { name: "llm", key: "netrc" },
              mountPath: "/secrets/netrc",
              fileMode: 0o400,
            },
          ],
        }),
      );
      await h.task("creds");
      await h.waitForPhase("creds", "Completed", 120_000);
      const log = await agentLog(h, "creds");
      assert.match(log, /^API_KEY=sk-test-123$/m);
      assert.match(log, /^machine git\.test login bot$/m);
      assert.match(log, /^mode=400$/m);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  onRealNode(
    "e2e: humanInTheLoop keeps the container for kubectl exec; the phase follows the exit code",
  ),
  async () => {
    const h = await TaskHarness.start();
    try {
      await h.agent("default", realNodeAgent({ command: ["/usr/local/bin/echo-agent", "0"] }));
      await h.agent("fails", realNodeAgent({ command: ["/usr/local/bin/echo-agent", "3"] }));
      await h.task("pair", { humanInTheLoop: { enabled: true, keepAliveSeconds: 20 } });
      await h.task("broken", {
        agentRef: "fails",
        humanInTheLoop: { enabled: true, keepAliveSeconds: 2 },
      });
      // The agent is done but the container stays: exec into it while it waits.
      const waiting = await eventually("the keep-alive message", async () => {
        const log = await agentLog(h, "pair").catch(() => "");
        return /humanInTheLoop/i.test(log) ? log : undefined;
      }, 120_000);
      assert.match(waiting, /^=== task\.md ===$/m);
      assert.equal((await h.get("task", "pair")).status.phase, "Running");
      const exec = await kubectl([
        "exec",
        "-n",
        h.ns,
        "job/pair",
        "-c",
        "agent",
        "--",
        "cat",
        "/workspace/task.md",
      ]);
      assert.equal(exec, (await h.get("configmap", "pair-context")).data["task.md"]);
      await h.waitForPhase("pair", "Completed", 120_000);
      const broken = await h.waitForPhase("broken", "Failed", 120_000);
      assert.equal(condition(broken, "Succeeded").reason, "JobFailed");
      assert.equal(broken.status.exitCode, 3);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(onRealNode("e2e: results come from the process's termination message"), async () => {
  const h = await TaskHarness.start();
  try {
    await h.agent(
      "default",
      realNodeAgent({
        command: [
          "sh",
          "-c",
          "printf 'Opened a PR.\\n::kubetask-output pr=https://git.test/pr/7::\\n' > /dev/termination-log",
        ],
      }),
    );
    await h.agent("silent-failure", realNodeAgent({ command: ["sh", "-c", "echo boom; exit 2"] }));
    await h.task("report");
    await h.task("crash", { agentRef: "silent-failure" });
    const done = await h.waitForPhase("report", "Completed", 120_000);
    assert.equal(done.status.summary, "Opened a PR.");
    assert.deepEqual(done.status.outputs, { pr: "https://git.test/pr/7" });
    // No message written, and it failed: the end of its log is the summary.
    const crashed = await h.waitForPhase("crash", "Failed", 120_000);
    assert.equal(crashed.status.exitCode, 2);
    assert.equal(crashed.status.summary, "boom");
  } finally {
    await h.cleanup();
  }
});
