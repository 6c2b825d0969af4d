// The kubetask-agent entrypoint (agents/entrypoint), run by node as the images
// run it. The CLI's part is replayed from what the real Claude Code printed
// against the scripted model server (fixtures/), so these tests need no model
// and no cluster; the real CLI runs in tests/e2e/agents/.
import assert from "assert";
import { join } from "node:path";
import { parseTerminationMessage } from "../../../controllers/task/results.ts";
import { repoRoot } from "../../../localcluster/paths.ts";
import {
  MAX_MESSAGE_BYTES,
  pullRequestUrl,
  terminationMessage,
  usageLine,
} from "../../../agents/entrypoint/report.mjs";
import { configureRepositories, parseArgs } from "../../../agents/entrypoint/kubetask-agent.mjs";

const ENTRYPOINT = join(repoRoot, "agents/entrypoint/kubetask-agent.mjs");
const FIXTURES = join(repoRoot, "tests/unit/agents/fixtures");

Deno.test("entrypoint: the termination message is what the operator parses, within 4 KiB", () => {
  const message = terminationMessage({
    summary: "Fixed it.\n" + "x".repeat(9000),
    outputs: { branch: "kubetask/fix", commit: "abc123", "bad name": "dropped" },
    usage: { inputTokens: 1200, outputTokens: 34, costUSD: 0.1 + 0.2, model: "claude-x" },
  });
  assert.ok(new TextEncoder().encode(message).length <= MAX_MESSAGE_BYTES, "fits");
  const parsed = parseTerminationMessage(message);
  assert.deepEqual(parsed.outputs, { branch: "kubetask/fix", commit: "abc123" });
  assert.deepEqual(parsed.usage, {
    inputTokens: 1200,
    outputTokens: 34,
    costUSD: "0.3",
    model: "claude-x",
  });
  assert.match(parsed.summary ?? "", /^Fixed it\.\nxxx/);
});

Deno.test("entrypoint: usage values a status could not hold are left out", () => {
  assert.equal(usageLine(undefined), "");
  assert.equal(usageLine({ costUSD: Number.NaN, model: "bad model name" }), "");
  assert.equal(
    usageLine({ inputTokens: 1.5, outputTokens: 7 }),
    "::kubetask-usage outputTokens=7::",
  );
  assert.equal(usageLine({ costUSD: 0.0000004 }), "::kubetask-usage costUSD=0::");
});

Deno.test("entrypoint: a pull or merge request URL is found in the agent's words", () => {
  assert.equal(
    pullRequestUrl("Opened https://github.com/org/repo/pull/42."),
    "https://github.com/org/repo/pull/42",
  );
  assert.equal(
    pullRequestUrl("see (https://gitlab.example/g/p/-/merge_requests/7)"),
    "https://gitlab.example/g/p/-/merge_requests/7",
  );
  assert.equal(pullRequestUrl("https://github.com/org/repo/pulls"), undefined);
});

Deno.test("entrypoint: the CLI from the argument or the image's variable; args after --", () => {
  assert.deepEqual(parseArgs([], { KUBETASK_AGENT_CLI: "claude-code" }), {
    cli: "claude-code",
    extraArgs: [],
  });
  assert.deepEqual(parseArgs(["codex", "--", "--model", "m"], {}), {
    cli: "codex",
    extraArgs: ["--model", "m"],
  });
});

async function sh(cwd: string, script: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

const GIT_ENV =
  "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t";

/**
 * A workspace with task.md and a clone of a local bare repository, and a
 * `claude` on PATH that records its standard input, does `work` in the clone
 * (as the agent's tools would) and prints `fixture`.
 */
async function workspace(fixture: string, exitCode: number, work = "true", command = "claude") {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-agent-" });
  const bin = join(dir, "bin");
  const ws = join(dir, "workspace");
  await Deno.mkdir(bin);
  await Deno.mkdir(ws);
  await Deno.writeTextFile(join(ws, "task.md"), "Fix the calc project.\n");
  await Deno.writeTextFile(
    join(bin, command),
    `#!/bin/sh\ncat > "${dir}/stdin"\necho "$@" > "${dir}/args"\nenv > "${dir}/env"\n` +
      `(cd "${ws}/calc" && export ${GIT_ENV} && ${work}) >/dev/null 2>&1\n` +
      `cat "${join(FIXTURES, fixture)}"\nexit ${exitCode}\n`,
    { mode: 0o755 },
  );
  await sh(
    dir,
    `git init -q --bare -b main origin.git && git clone -q origin.git workspace/calc 2>/dev/null && ` +
      `cd workspace/calc && ${GIT_ENV} git commit -q --allow-empty -m one && git push -q origin main`,
  );
  return { dir, bin, ws };
}

async function runEntrypoint(
  w: { dir: string; bin: string; ws: string },
  cli = "claude-code",
  env: Record<string, string> = {},
) {
  const out = await new Deno.Command("node", {
    args: [ENTRYPOINT, cli],
    cwd: w.ws,
    clearEnv: true,
    env: {
      PATH: `${w.bin}:${Deno.env.get("PATH")}`,
      HOME: w.dir,
      WORKSPACE_DIR: w.ws,
      KUBETASK_TERMINATION_LOG: join(w.dir, "termination-log"),
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    log: new TextDecoder().decode(out.stdout),
    message: await Deno.readTextFile(join(w.dir, "termination-log")),
  };
}

Deno.test("entrypoint: a successful Claude Code run: its tool calls logged, branch, commit and usage reported", async () => {
  const w = await workspace(
    "claude-code.jsonl",
    0,
    "git checkout -q -b kubetask/fix && git commit -q --allow-empty -m fix && git push -q origin HEAD",
  );
  try {
    const run = await runEntrypoint(w);
    const head = await sh(join(w.ws, "calc"), "git rev-parse HEAD");
    assert.equal(run.code, 0, run.log);
    assert.equal(await Deno.readTextFile(join(w.dir, "stdin")), "Fix the calc project.\n");
    assert.match(
      await Deno.readTextFile(join(w.dir, "args")),
      /^-p --dangerously-skip-permissions --output-format stream-json --verbose$/m,
    );
    assert.match(run.log, /^\[kubetask-agent\] model claude-opus-5-5, working in /m);
    assert.match(run.log, /^\[kubetask-agent\] tool Bash: pwd > step1\.txt && echo one$/m);
    assert.match(run.log, /^\[kubetask-agent\] tool result: one$/m);
    assert.match(run.log, /^\[kubetask-agent\] claude-code exited with code 0$/m);
    assert.deepEqual(parseTerminationMessage(run.message), {
      summary: "Done: both commands ran.",
      outputs: { branch: "kubetask/fix", commit: head },
      usage: { inputTokens: 37790, outputTokens: 57, costUSD: "0.1523", model: "claude-opus-5-5" },
    });
  } finally {
    await Deno.remove(w.dir, { recursive: true });
  }
});

Deno.test("entrypoint: through the gateway Claude Code gets its URL, the token through apiKeyHelper and the CA, never a key", async () => {
  const w = await workspace("claude-code.jsonl", 0);
  try {
    const gateway = {
      KUBETASK_GATEWAY_URL: "https://gw.kubetask-system.svc:8443/p/anthropic/",
      KUBETASK_GATEWAY_TOKEN_FILE: join(w.dir, "token"),
      KUBETASK_GATEWAY_CA_FILE: join(w.dir, "ca.crt"),
      // An Agent that still passes a key: dropped, so the CLI cannot go around the gateway.
      ANTHROPIC_API_KEY: "sk-must-not-reach-the-cli",
    };
    await Deno.writeTextFile(join(w.dir, "token"), "gateway-token\n");
    const run = await runEntrypoint(w, "claude-code", gateway);
    assert.equal(run.code, 0, run.log);
    const env = await Deno.readTextFile(join(w.dir, "env"));
    assert.match(
      env,
      /^ANTHROPIC_BASE_URL=https:\/\/gw\.kubetask-system\.svc:8443\/p\/anthropic$/m,
    );
    assert.match(env, new RegExp(`^NODE_EXTRA_CA_CERTS=${join(w.dir, "ca.crt")}$`, "m"));
    assert.doesNotMatch(env, /sk-must-not-reach-the-cli/);
    const args = await Deno.readTextFile(join(w.dir, "args"));
    assert.ok(
      args.includes(`--settings {"apiKeyHelper":"cat ${join(w.dir, "token")}"}`),
      args,
    );
    assert.match(run.log, /model calls go through the KubeTask gateway at https:\/\/gw\./);
  } finally {
    await Deno.remove(w.dir, { recursive: true });
  }
});

/** What one CLI gets through the gateway, as its fake recorded it (env and args). */
const THROUGH_GATEWAY: {
  cli: string;
  command: string;
  check(env: string, args: string, files: { token: string; ca: string }): void;
}[] = [
  {
    cli: "codex",
    command: "codex",
    check(env, args, f) {
      // A provider of its own at <url>/v1, the token from a command Codex runs when it needs one.
      assert.ok(
        args.includes(
          `-c model_providers.kubetask={name="kubetask",` +
            `base_url="https://gw.kubetask-system.svc:8443/p/openai/v1",wire_api="responses",` +
            `auth={command="cat",args=["${f.token}"]}} -c model_provider=kubetask`,
        ),
        args,
      );
      // A native binary: NODE_EXTRA_CA_CERTS is not read, CODEX_CA_CERTIFICATE is.
      assert.match(env, new RegExp(`^CODEX_CA_CERTIFICATE=${f.ca}$`, "m"));
      assert.doesNotMatch(env, /gateway-token/, "the token is not in its environment");
    },
  },
  {
    cli: "gemini-cli",
    command: "gemini",
    check(env, _args, f) {
      assert.match(
        env,
        /^GOOGLE_GEMINI_BASE_URL=https:\/\/gw\.kubetask-system\.svc:8443\/p\/openai$/m,
      );
      assert.match(env, /^GEMINI_API_KEY=gateway-token$/m);
      assert.match(env, new RegExp(`^NODE_EXTRA_CA_CERTS=${f.ca}$`, "m"));
    },
  },
  {
    cli: "opencode",
    command: "opencode",
    check(env, _args, f) {
      const line = env.split("\n").find((l) => l.startsWith("OPENCODE_CONFIG_CONTENT="));
      const config = JSON.parse(line!.slice("OPENCODE_CONFIG_CONTENT=".length));
      // The Agent's config kept, one provider added at the gateway, its model chosen there.
      assert.deepEqual(config.permission, { bash: "allow" });
      assert.deepEqual(config.provider.kubetask, {
        npm: "@ai-sdk/openai-compatible",
        name: "KubeTask model gateway",
        options: {
          baseURL: "https://gw.kubetask-system.svc:8443/p/openai/v1",
          apiKey: "{env:KUBETASK_GATEWAY_TOKEN}",
        },
        models: { "gpt-5": { name: "gpt-5", tool_call: true } },
      });
      assert.equal(config.model, "kubetask/gpt-5");
      assert.match(env, /^KUBETASK_GATEWAY_TOKEN=gateway-token$/m);
      assert.match(env, new RegExp(`^NODE_EXTRA_CA_CERTS=${f.ca}$`, "m"));
    },
  },
];

for (const c of THROUGH_GATEWAY) {
  Deno.test(`entrypoint: through the gateway ${c.cli} gets its URL, the token and the CA, never a key`, async () => {
    const w = await workspace(`${c.cli}.jsonl`, 0, "true", c.command);
    try {
      const files = { token: join(w.dir, "token"), ca: join(w.dir, "ca.crt") };
      await Deno.writeTextFile(files.token, "gateway-token\n");
      const run = await runEntrypoint(w, c.cli, {
        KUBETASK_GATEWAY_URL: "https://gw.kubetask-system.svc:8443/p/openai/",
        KUBETASK_GATEWAY_TOKEN_FILE: files.token,
        KUBETASK_GATEWAY_CA_FILE: files.ca,
        // Keys an Agent still passes: dropped, so the CLI cannot go around the gateway.
        OPENAI_API_KEY: "sk-must-not-reach-the-cli",
        GEMINI_API_KEY: "sk-must-not-reach-the-cli",
        OPENCODE_CONFIG_CONTENT: JSON.stringify({
          provider: { openai: { options: { apiKey: "{env:OPENAI_API_KEY}" } } },
          model: "openai/gpt-5",
          permission: { bash: "allow" },
        }),
      });
      assert.equal(run.code, 0, run.log);
      const env = await Deno.readTextFile(join(w.dir, "env"));
      assert.doesNotMatch(env, /sk-must-not-reach-the-cli/);
      c.check(env, await Deno.readTextFile(join(w.dir, "args")), files);
      assert.match(run.log, /model calls go through the KubeTask gateway at https:\/\/gw\./);
    } finally {
      await Deno.remove(w.dir, { recursive: true });
    }
  });
}

Deno.test("entrypoint: OpenCode's config that is not JSON fails the run, saying so", async () => {
  const w = await workspace("opencode.jsonl", 0, "true", "opencode");
  try {
    await Deno.writeTextFile(join(w.dir, "token"), "gateway-token\n");
    const run = await runEntrypoint(w, "opencode", {
      KUBETASK_GATEWAY_URL: "https://gw/p/openai",
      KUBETASK_GATEWAY_TOKEN_FILE: join(w.dir, "token"),
      KUBETASK_GATEWAY_CA_FILE: join(w.dir, "ca.crt"),
      OPENCODE_CONFIG_CONTENT: "{not json",
    });
    assert.equal(run.code, 2);
    assert.match(
      parseTerminationMessage(run.message).summary ?? "",
      /cannot point opencode at the KubeTask model gateway: OPENCODE_CONFIG_CONTENT is not JSON/,
    );
  } finally {
    await Deno.remove(w.dir, { recursive: true });
  }
});

Deno.test("entrypoint: a commit that was not pushed, or no change at all, reports no branch", async () => {
  for (const work of ["git checkout -q -b wip && git commit -q --allow-empty -m x", "true"]) {
    const w = await workspace("claude-code.jsonl", 0, work);
    try {
      const run = await runEntrypoint(w);
      assert.equal(parseTerminationMessage(run.message).outputs, undefined, work);
    } finally {
      await Deno.remove(w.dir, { recursive: true });
    }
  }
});

Deno.test("entrypoint: a key the model API refuses: the CLI's exit code, a summary naming the error", async () => {
  const w = await workspace("claude-code-401.jsonl", 1);
  try {
    const run = await runEntrypoint(w);
    assert.equal(run.code, 1);
    const parsed = parseTerminationMessage(run.message);
    assert.equal(parsed.summary, "model API answered 401\nInvalid API key · Fix external API key");
    assert.equal(parsed.outputs, undefined);
  } finally {
    await Deno.remove(w.dir, { recursive: true });
  }
});

// Each CLI's recorded run of the same script (two shell commands, then "Done: both commands ran.").
const CLIS = [
  {
    cli: "codex",
    command: "codex",
    args: /^exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox -$/m,
    tool: "tool shell: /usr/bin/bash -lc 'pwd > step1.txt && echo one'",
    result: "tool result (exit 0): one",
    usage: { inputTokens: 30117, outputTokens: 33 },
    error: /^unexpected status 401 Unauthorized: invalid API key/,
    errorExit: 1,
  },
  {
    cli: "gemini-cli",
    command: "gemini",
    args: /^--yolo --output-format stream-json -p $/m,
    tool: "tool run_shell_command: pwd > step1.txt && echo one",
    result: "tool result: one",
    usage: { inputTokens: 36396, outputTokens: 57, model: "gemini-3.8-flash" },
    error: /"code":401/,
    errorExit: 145,
  },
  {
    cli: "opencode",
    command: "opencode",
    args: /^run --format json --auto Fix the calc project\.$/m,
    tool: "tool bash: pwd > step1.txt && echo one",
    result: "tool result: one",
    usage: { inputTokens: 23246, outputTokens: 35, costUSD: "0" },
    error: /^model API answered 401: invalid API key/,
    errorExit: 1,
  },
];

for (const c of CLIS) {
  Deno.test(`entrypoint: ${c.cli}: its tool calls logged, its answer and usage reported`, async () => {
    const w = await workspace(`${c.cli}.jsonl`, 0, "true", c.command);
    try {
      const run = await runEntrypoint(w, c.cli);
      assert.equal(run.code, 0, run.log);
      assert.match(await Deno.readTextFile(join(w.dir, "args")), c.args);
      assert.ok(run.log.includes(`[kubetask-agent] ${c.tool}\n`), run.log);
      assert.ok(run.log.includes(`[kubetask-agent] ${c.result}\n`), run.log);
      assert.ok(run.log.includes(`[kubetask-agent] says: Done: both commands ran.\n`), run.log);
      assert.deepEqual(parseTerminationMessage(run.message), {
        summary: "Done: both commands ran.",
        usage: c.usage,
      });
    } finally {
      await Deno.remove(w.dir, { recursive: true });
    }
  });

  Deno.test(`entrypoint: ${c.cli}: a refused key fails with the CLI's code and error`, async () => {
    const w = await workspace(`${c.cli}-401.jsonl`, c.errorExit, "true", c.command);
    try {
      const run = await runEntrypoint(w, c.cli);
      assert.equal(run.code, c.errorExit);
      assert.match(parseTerminationMessage(run.message).summary ?? "", c.error);
    } finally {
      await Deno.remove(w.dir, { recursive: true });
    }
  });
}

Deno.test("entrypoint: an unknown CLI exits 2 and says which ones it knows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("node", {
      args: [ENTRYPOINT, "nope"],
      env: { KUBETASK_TERMINATION_LOG: join(dir, "log"), WORKSPACE_DIR: dir },
      stdout: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(
      await Deno.readTextFile(join(dir, "log")),
      /unknown agent CLI "nope" \(known: claude-code, codex, gemini-cli, opencode\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("entrypoint: each repository gets the author and the token for its own https host only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-agent-" });
  try {
    await sh(
      dir,
      "git init -q https-repo && git -C https-repo remote add origin https://git.example.test:8443/org/x.git && " +
        "git init -q ssh-repo && git -C ssh-repo remote add origin ssh://git@git.example.test/org/y.git",
    );
    const hosts = configureRepositories(dir, { GIT_TOKEN: "tok-123" });
    assert.deepEqual(hosts, ["git.example.test:8443"]);
    const local = (repo: string) => sh(join(dir, repo), "git config --local --list");
    const https = await local("https-repo");
    assert.match(https, /^user\.name=.+$/m);
    assert.match(https, /^user\.email=.+$/m);
    assert.ok(
      https.includes(
        `http.https://git.example.test:8443/.extraheader=Authorization: Basic ${
          btoa("x-access-token:tok-123")
        }`,
      ),
      https,
    );
    assert.doesNotMatch(await local("ssh-repo"), /extraheader/, "no token for an ssh remote");
    // Without a token, only the author.
    const none = await Deno.makeTempDir({ prefix: "kubetask-agent-" });
    await sh(none, "git init -q r && git -C r remote add origin https://other.example.test/r.git");
    assert.deepEqual(configureRepositories(none, {}), []);
    assert.doesNotMatch(await sh(join(none, "r"), "git config --local --list"), /extraheader/);
    // The Git proxy's insteadOf rules (and nothing else of GIT_CONFIG_*) reach the repository's config.
    configureRepositories(none, {
      GIT_CONFIG_COUNT: "2",
      GIT_CONFIG_KEY_0: "url.http://127.0.0.1:7070/0.insteadOf",
      GIT_CONFIG_VALUE_0: "https://other.example.test/r.git",
      GIT_CONFIG_KEY_1: "core.sshCommand",
      GIT_CONFIG_VALUE_1: "touch /tmp/pwned",
    });
    const proxied = await sh(join(none, "r"), "git config --local --list");
    assert.match(
      proxied,
      /^url\.http:\/\/127\.0\.0\.1:7070\/0\.insteadof=https:\/\/other\.example\.test\/r\.git$/m,
    );
    assert.doesNotMatch(proxied, /sshcommand/i);
    await Deno.remove(none, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
