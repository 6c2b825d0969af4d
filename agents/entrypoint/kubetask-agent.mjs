#!/usr/bin/env node
// @ts-check
// kubetask-agent: the entrypoint of every KubeTask agent image.
//
//   kubetask-agent [CLI] [-- EXTRA CLI ARGS]     (CLI defaults to $KUBETASK_AGENT_CLI)
//
// Reads $WORKSPACE_DIR/task.md, runs the agent CLI headless in the workspace,
// prints what it does (one readable line per event) to the log, and when the
// CLI ends writes the termination message KubeTask turns into the Task's
// status: the outputs (branch and commit it pushed, a PR URL it mentioned),
// a usage line and a summary. It exits with the CLI's exit code.
import { spawn } from "node:child_process";
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ADAPTERS } from "./adapters/index.mjs";
import { gatewayAccess, gatewayEnv } from "./gateway.mjs";
import {
  git,
  heads,
  pullRequestUrl,
  pushedBranch,
  repositories,
  terminationMessage,
  usageLine,
} from "./report.mjs";

const log = (/** @type {string} */ line) => process.stdout.write(`[kubetask-agent] ${line}\n`);

/** The CLI's name and the arguments to pass through, from argv and the environment. */
export function parseArgs(/** @type {string[]} */ argv, /** @type {NodeJS.ProcessEnv} */ env) {
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  return {
    cli: own[0] ?? env.KUBETASK_AGENT_CLI ?? "",
    extraArgs: dash < 0 ? [] : argv.slice(dash + 1),
  };
}

/**
 * Git settings the workspace's repositories carry in their own config, since
 * some CLIs run their shell tool with the system and user git configs (and
 * credential helpers) switched off (Gemini CLI does): the author, unless the
 * configs name one; the Git proxy's insteadOf rules (GIT_CONFIG_* from the
 * pod, no secret in them), so git in such a shell still goes through the
 * proxy; and with $GIT_TOKEN (an operator without the proxy) an Authorization
 * header for the host each repository came from (https only), and for no
 * other host. Returns the hosts that got the token.
 */
export function configureRepositories(
  /** @type {string} */ workspace,
  /** @type {NodeJS.ProcessEnv} */ env,
) {
  const hosts = new Set();
  const insteadOf = proxyRules(env);
  for (const repo of repositories(workspace)) {
    for (const [key, value] of insteadOf) git(repo, "config", "--local", key, value);
    for (
      const [key, fallback] of [["user.name", "KubeTask Agent"], [
        "user.email",
        "agent@kubetask.io",
      ]]
    ) {
      git(repo, "config", "--local", key, git(repo, "config", "--get", key) || fallback);
    }
    if (!env.GIT_TOKEN) continue;
    let url;
    try {
      url = new URL(git(repo, "remote", "get-url", "origin") ?? "");
    } catch {
      continue; // not a URL: an ssh remote needs no token
    }
    if (url.protocol !== "https:") continue;
    const basic = Buffer.from(`${env.GIT_USERNAME || "x-access-token"}:${env.GIT_TOKEN}`)
      .toString("base64");
    git(
      repo,
      "config",
      "--local",
      `http.https://${url.host}/.extraHeader`,
      `Authorization: Basic ${basic}`,
    );
    hosts.add(url.host);
  }
  return [...hosts];
}

/** The `url.<proxy>.insteadOf` rules among the GIT_CONFIG_* variables: [key, value] pairs. */
export function proxyRules(/** @type {NodeJS.ProcessEnv} */ env) {
  /** @type {[string, string][]} */
  const rules = [];
  const count = Number(env.GIT_CONFIG_COUNT ?? 0);
  for (let i = 0; Number.isInteger(count) && i < Math.min(count, 100); i++) {
    const key = env[`GIT_CONFIG_KEY_${i}`] ?? "";
    const value = env[`GIT_CONFIG_VALUE_${i}`] ?? "";
    if (/^url\.http:\/\/127\.0\.0\.1:[0-9]+\/[0-9]+\.insteadOf$/i.test(key) && value) {
      rules.push([key, value]);
    }
  }
  return rules;
}

async function main() {
  const { cli, extraArgs } = parseArgs(process.argv.slice(2), process.env);
  const adapter = ADAPTERS[cli];
  const terminationLog = process.env.KUBETASK_TERMINATION_LOG ?? "/dev/termination-log";
  const report = (/** @type {import("./report.mjs").Report} */ r) => {
    try {
      writeFileSync(terminationLog, terminationMessage(r));
    } catch (err) {
      log(`cannot write the termination message: ${/** @type {Error} */ (err).message}`);
    }
  };
  if (!adapter) {
    const known = Object.keys(ADAPTERS).join(", ");
    const summary = `kubetask-agent: unknown agent CLI "${cli}" (known: ${known})`;
    log(summary);
    report({ summary, outputs: {} });
    return 2;
  }
  const workspace = process.env.WORKSPACE_DIR ?? process.cwd();
  let prompt;
  try {
    prompt = readFileSync(join(workspace, "task.md"), "utf8");
  } catch (err) {
    const summary = `kubetask-agent: cannot read task.md: ${/** @type {Error} */ (err).message}`;
    log(summary);
    report({ summary, outputs: {} });
    return 2;
  }
  const startHeads = heads(workspace);
  const hosts = configureRepositories(workspace, process.env);
  if (hosts.length) log(`git uses $GIT_TOKEN for https://${hosts.join(", https://")}`);
  const proxied = proxyRules(process.env).map(([, url]) => url);
  if (proxied.length) log(`git reaches ${proxied.join(", ")} through the KubeTask Git proxy`);

  const gateway = gatewayAccess(process.env);
  if (gateway && !adapter.viaGateway) {
    const summary = `kubetask-agent: ${adapter.name} cannot use the KubeTask model gateway yet ` +
      "(its Agent names a modelProvider): give the Agent a key instead";
    log(summary);
    report({ summary, outputs: {} });
    return 2;
  }
  let setup;
  try {
    setup = gateway && adapter.viaGateway ? adapter.viaGateway(gateway, process.env) : undefined;
  } catch (err) {
    // e.g. the token file missing, or a config the gateway's provider cannot be added to
    const reason = /** @type {Error} */ (err).message;
    const summary =
      `kubetask-agent: cannot point ${adapter.name} at the KubeTask model gateway: ${reason}`;
    log(summary);
    report({ summary, outputs: {} });
    return 2;
  }
  const invocation = adapter.command([...(setup?.args ?? []), ...extraArgs], prompt, process.env);
  const { command, args, promptOnStdin, model } = invocation;
  const shown = args.map((a) => a === prompt ? "<task.md>" : a).join(" ");
  log(`running ${adapter.name}: ${command} ${shown} (task.md: ${prompt.length} bytes)`);
  if (gateway) log(`model calls go through the KubeTask gateway at ${gateway.url}`);
  const child = spawn(command, promptOnStdin ? args : [...args, prompt], {
    cwd: workspace,
    stdio: ["pipe", "pipe", "pipe"],
    env: gateway && setup ? gatewayEnv(process.env, gateway, setup.env) : process.env,
  });
  /** @type {import("./adapters/adapter.mjs").RunState} */
  const run = { model };
  /** @type {string[]} */
  const toolText = [];
  /** @type {string[]} */
  const stderrTail = [];
  child.stdin.on("error", () => {}); // a CLI that never reads its input
  child.stdin.end(promptOnStdin ? prompt : "");

  const lines = createInterface({ input: child.stdout });
  const linesDone = new Promise((resolve) => lines.once("close", resolve));
  lines.on("line", (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      if (line.trim()) log(line); // not an event: the CLI's own text
      return;
    }
    toolText.push(line);
    for (const out of adapter.onEvent(event, run)) log(out);
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    process.stderr.write(`${line}\n`);
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });

  // A stop (SIGTERM from the kubelet) reaches the CLI; the report still follows.
  for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
    process.on(signal, () => {
      run.lastError = `stopped by ${signal}`;
      child.kill(signal);
    });
  }
  const [code, signal] = await new Promise((resolve) => {
    child.on("error", (err) => {
      run.lastError = `cannot start ${command}: ${err.message}`;
      resolve([127, null]);
    });
    child.on("close", (c, s) => resolve([c, s]));
  });
  await linesDone;
  const exitCode = code ?? (signal === "SIGKILL" ? 137 : 143);

  /** @type {Record<string, string>} */
  const outputs = {};
  const pushed = pushedBranch(workspace, startHeads);
  if (pushed) Object.assign(outputs, pushed);
  const pr = pullRequestUrl(`${run.finalText ?? ""}\n${toolText.join("\n")}`);
  if (pr) outputs.pr = pr;
  const failed = exitCode !== 0 || run.failed;
  const summary = failed
    ? [run.lastError, run.finalText, ...stderrTail.slice(-5)].filter(Boolean).join("\n") ||
      `${adapter.name} exited with code ${exitCode}`
    : run.finalText ?? "";
  report({ summary, outputs, usage: run.usage });
  for (const [name, value] of Object.entries(outputs)) log(`output ${name}=${value}`);
  if (run.usage) log(`usage ${usageLine(run.usage).slice("::kubetask-usage ".length, -2)}`);
  log(`${adapter.name} exited with code ${exitCode}`);
  return exitCode;
}

/** Whether this module is the program node runs (through any symlink), not an import. */
function isMain() {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  main().then((code) => process.exit(code), (err) => {
    log(`failed: ${err?.stack ?? err}`);
    process.exit(1);
  });
}
