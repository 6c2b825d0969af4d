// Claude Code, the real CLI from its npm package, in the image agents/ builds,
// on the real node: it reads task.md, talks to the scripted model server (the
// one test double: the provider's API), runs the tests of a project cloned
// from the local git server, fixes it, commits and pushes a branch with the
// token from the Agent's Secret. Then the failure paths.
import assert from "assert";
import { git, type GitServer, startGitServer } from "../../../localcluster/git_server.ts";
import { type ModelServer, startModelServer } from "../../../localcluster/model_server/mod.ts";
import { GIT_IMAGE } from "../../../agents/images.ts";
import { eventually, kubectl } from "../../integration/env.ts";
import { AGENT_SA, condition, TaskHarness } from "../../integration/task/harness.ts";
import { agentLog, onRealNode, realNode } from "../real_node.ts";
import {
  agentOnRealNode,
  BASE_URL_KEY,
  fixAndPushScript,
  PROJECT_DIR,
  PROJECT_FILES,
  shippedAgent,
} from "../../../localcluster/demo_project.ts";

const KEY = `sk-ant-e2e-${crypto.randomUUID().slice(0, 8)}`;

interface World {
  h: TaskHarness;
  gitServer: GitServer;
  model: ModelServer;
  project: string;
  /** Creates the shipped Agent and its Secret (the test's key, token and model server). */
  agent(): Promise<void>;
  /** A Task on the project whose description carries `marker`. */
  task(name: string, marker: string): Promise<void>;
}

async function world(
  scripts: (project: string) => Parameters<typeof startModelServer>[0]["scripts"],
) {
  const address = realNode!.gateway;
  const gitServer = await startGitServer(address);
  const project = `calc-${crypto.randomUUID().slice(0, 6)}`;
  const url = await gitServer.addRepository(project, PROJECT_FILES);
  const model = await startModelServer({ hostname: address, scripts: scripts(project) });
  const h = await TaskHarness.start({ settings: () => ({ gitImage: GIT_IMAGE }) });
  const { secret, agent } = await shippedAgent("claude-code");
  const w: World = {
    h,
    gitServer,
    model,
    project,
    async agent() {
      await h.apply({
        ...secret,
        stringData: {
          "anthropic-api-key": KEY,
          "git-token": gitServer.token,
          [BASE_URL_KEY]: model.url,
        },
      });
      await h.agent(agent.metadata.name, agentOnRealNode(agent, secret.metadata.name, AGENT_SA));
    },
    async task(name, marker) {
      await h.context(`${name}-src`, { type: "Git", git: { repository: url, ref: "main" } });
      await h.task(name, {
        agentRef: agent.metadata.name,
        description: `Make the tests of the calc project pass (${marker}).`,
        contexts: [{ name: `${name}-src`, mountPath: PROJECT_DIR }],
      });
    },
  };
  return {
    w,
    async close() {
      await h.cleanup();
      await model.close();
      await gitServer.close();
    },
  };
}

Deno.test(
  onRealNode("e2e: Claude Code fixes a failing test, commits and pushes a branch"),
  async () => {
    const marker = `MARK-claude-${crypto.randomUUID().slice(0, 8)}`;
    const { w, close } = await world(() => [fixAndPushScript(marker, "fix")]);
    try {
      await w.agent();
      await w.task("fix", marker);
      const done = await w.h.waitForPhase("fix", "Completed", 240_000).catch(async (err) => {
        throw new Error(`${err}\n${await agentLog(w.h, "fix").catch(() => "")}`);
      });
      const log = await agentLog(w.h, "fix");
      // The CLI's own tool calls, as the entrypoint printed them.
      assert.match(log, /\[kubetask-agent\] tool Bash: cd \/workspace\/calc && sh test\.sh$/m);
      assert.match(
        log,
        /\[kubetask-agent\] tool result \(error\): Exit code 1 FAIL add 2 3 = -1, want 5/,
      );
      assert.match(log, /\[kubetask-agent\] tool result: PASS add 2 3 = 5/);
      assert.match(log, /\[kubetask-agent\] tool Bash: .*git push -q origin HEAD/);

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

      // What the model saw: task.md's text, and the Secret's key.
      const mine = w.model.requests.filter((r) => r.marker === marker);
      assert.ok(mine.length >= 4, `${mine.length} scripted requests`);
      assert.ok(JSON.stringify(mine[0].body).includes("Make the tests of the calc project pass"));
      assert.ok(
        mine.every((r) => r.headers["x-api-key"] === KEY),
        "the Secret's key on every request",
      );

      // Usage as the server reported it, and the summary from the final answer.
      const served = w.model.usage(marker);
      assert.equal(done.status.usage.inputTokens, served.inputTokens);
      assert.equal(done.status.usage.outputTokens, served.outputTokens);
      assert.match(done.status.usage.costUSD, /^[0-9.]+$/);
      assert.ok(done.status.usage.model, "the model is named");
      assert.equal(
        done.status.summary,
        "Fixed add.sh (it subtracted); test.sh passes. Pushed branch kubetask/fix.",
      );
      assert.equal(done.status.exitCode, 0);
      if (Deno.env.get("KUBETASK_E2E_SHOW_LOGS")) {
        console.error(
          `[e2e] git server kubetask/fix = ${head}; status.usage ${
            JSON.stringify(done.status.usage)
          }`,
        );
      }
    } finally {
      await close();
    }
  },
);

Deno.test(
  onRealNode("e2e: Claude Code with a key the model API refuses fails, naming the error"),
  async () => {
    const marker = `MARK-claude-401-${crypto.randomUUID().slice(0, 8)}`;
    const { w, close } = await world(() => [{
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
      assert.match(done.status.summary, /401/);
      assert.equal(done.status.outputs, undefined, "nothing was pushed");
    } finally {
      await close();
    }
  },
);

Deno.test(
  onRealNode("e2e: Claude Code retries a 429 by itself and completes"),
  async () => {
    const marker = `MARK-claude-429-${crypto.randomUUID().slice(0, 8)}`;
    const { w, close } = await world(() => [{
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
      await close();
    }
  },
);

Deno.test(
  onRealNode("e2e: stopping a Task ends Claude Code mid-run and keeps its log"),
  async () => {
    const marker = `MARK-claude-stop-${crypto.randomUUID().slice(0, 8)}`;
    const { w, close } = await world(() => [{
      marker,
      turns: [{ text: "This takes a while.", shell: "echo working; sleep 600" }, { text: "done" }],
    }]);
    try {
      await w.agent();
      await w.task("halt", marker);
      await w.h.waitForPhase("halt", "Running", 120_000);
      await eventually(
        "the CLI runs the long command",
        async () => /tool Bash: echo working; sleep 600/.test(await agentLog(w.h, "halt")),
        120_000,
      );
      await kubectl(["annotate", "task", "halt", "-n", w.h.ns, "kubetask.io/stop=true"]);
      const done = await w.h.waitForPhase("halt", "Failed", 120_000);
      assert.equal(condition(done, "Succeeded").reason, "Stopped");
      const log = await agentLog(w.h, "halt");
      assert.match(log, /tool Bash: echo working; sleep 600/, "the log is kept");
      // The kubelet's SIGTERM reached the CLI through the entrypoint, which still reported.
      assert.match(log, /^\[kubetask-agent\] claude-code exited with code 143$/m);
      assert.match(done.status.summary ?? "", /^stopped by SIGTERM/);
    } finally {
      await close();
    }
  },
);
