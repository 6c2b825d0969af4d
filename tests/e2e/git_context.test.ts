// A Git context really cloned by the init container (the local git image, as
// an unprivileged user) from a repository served over https on this machine:
// at a branch, a tag and a commit, with `path`.
import assert from "assert";
import { condition, TaskHarness } from "../integration/task/harness.ts";
import { startGitServer } from "../../localcluster/git_server.ts";
import { agentLog, onRealNode, REAL_NODE_SETTINGS, realNode, realNodeAgent } from "./real_node.ts";

Deno.test(
  onRealNode("e2e: a Git context is cloned at a branch, a tag and a commit, with path"),
  async () => {
    const server = await startGitServer(realNode!.gateway);
    const h = await TaskHarness.start({ settings: () => REAL_NODE_SETTINGS });
    try {
      await h.agent(
        "default",
        realNodeAgent({
          command: ["sh", "-c", "ls /workspace/docs; cat /workspace/docs/guide.md"],
        }),
      );
      const cases = { branch: "feature", tag: "v1", commit: server.firstCommit, main: "main" };
      for (const [name, ref] of Object.entries(cases)) {
        await h.context(`repo-${name}`, {
          type: "Git",
          git: { repository: server.url, ref, path: "docs" },
        });
        await h.task(name, { contexts: [{ name: `repo-${name}`, mountPath: "/workspace/docs" }] });
      }
      const expected = { branch: "feature", tag: "v1", commit: "v1", main: "v2" };
      for (const [name, text] of Object.entries(expected)) {
        const task = await h.waitForPhase(name, "Completed", 180_000).catch(async (err) => {
          const t = await h.get("task", name);
          throw new Error(`${name}: ${JSON.stringify(condition(t, "Succeeded"))}: ${err}`);
        });
        assert.equal(task.status.exitCode, 0);
        const log = await agentLog(h, name);
        // Only the repository's docs/ is mounted, at the ref asked for.
        assert.equal(log, `guide.md\n${text}\n`, `${name}: ${log}`);
      }
    } finally {
      await h.cleanup();
      await server.close();
    }
  },
);
