// @ts-check
// What the entrypoint reports when the agent CLI ends: the termination
// message KubeTask reads into the Task's status (controllers/task/results.ts),
// and the facts it gathers for it from the workspace's git repositories.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Kubernetes keeps at most 4096 bytes of a termination message; stay under it. */
export const MAX_MESSAGE_BYTES = 4000;
/** status.summary holds at most 2048 characters. */
export const MAX_SUMMARY = 2048;

/**
 * @typedef {{ inputTokens?: number; outputTokens?: number; costUSD?: number; model?: string }} Usage
 * @typedef {{ summary: string; outputs: Record<string, string>; usage?: Usage }} Report
 */

/** Output and usage lines first (they must survive), then the summary, cut to fit. */
export function terminationMessage(/** @type {Report} */ report) {
  const lines = Object.entries(report.outputs)
    .filter(([name, value]) => /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/.test(name) && !/\n/.test(value))
    .map(([name, value]) => `::kubetask-output ${name}=${value.slice(0, 1024)}::`);
  const usage = usageLine(report.usage);
  if (usage) lines.push(usage);
  const head = lines.join("\n");
  const room = MAX_MESSAGE_BYTES - Buffer.byteLength(head) - 1;
  let summary = report.summary.trim().slice(0, MAX_SUMMARY);
  while (Buffer.byteLength(summary) > room) summary = summary.slice(0, -64);
  return [head, summary].filter(Boolean).join("\n") + "\n";
}

/** `::kubetask-usage inputTokens=N outputTokens=N costUSD=D model=NAME::`, or "" with nothing known. */
export function usageLine(/** @type {Usage | undefined} */ usage) {
  if (!usage) return "";
  const fields = [];
  if (Number.isSafeInteger(usage.inputTokens)) fields.push(`inputTokens=${usage.inputTokens}`);
  if (Number.isSafeInteger(usage.outputTokens)) fields.push(`outputTokens=${usage.outputTokens}`);
  if (typeof usage.costUSD === "number" && Number.isFinite(usage.costUSD) && usage.costUSD >= 0) {
    fields.push(`costUSD=${usage.costUSD.toFixed(6).replace(/\.?0+$/, "")}`);
  }
  if (usage.model && /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/.test(usage.model)) {
    fields.push(`model=${usage.model}`);
  }
  return fields.length ? `::kubetask-usage ${fields.join(" ")}::` : "";
}

/** The first pull or merge request URL in `text`, if any. */
export function pullRequestUrl(/** @type {string} */ text) {
  return /https?:\/\/[^\s"'<>)\]]+\/(?:pull|pulls|merge_requests)\/[0-9]+/.exec(text)?.[0];
}

/** Git work trees in the workspace: the workspace itself and its folders two levels down. */
export function repositories(/** @type {string} */ workspace) {
  /** @type {string[]} */
  const found = [];
  const visit = (/** @type {string} */ dir, /** @type {number} */ depth) => {
    if (existsSync(join(dir, ".git"))) found.push(dir);
    if (depth === 0) return;
    /** @type {import("node:fs").Dirent[]} */
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith(".")) visit(join(dir, e.name), depth - 1);
    }
  };
  visit(workspace, 2);
  return found;
}

/** Runs git in `cwd`; its trimmed output, or undefined when it fails. */
export function git(/** @type {string} */ cwd, /** @type {string[]} */ ...args) {
  try {
    return execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    }).trim();
  } catch {
    return undefined;
  }
}

/** Each repository's HEAD commit, taken before the agent starts. */
export function heads(/** @type {string} */ workspace) {
  return new Map(repositories(workspace).map((repo) => [repo, git(repo, "rev-parse", "HEAD")]));
}

/**
 * The branch and commit the agent pushed: the first repository whose HEAD
 * moved since `before` and whose current branch exists on its origin at
 * exactly that commit (the remote's word, not ours).
 */
export function pushedBranch(
  /** @type {string} */ workspace,
  /** @type {Map<string, string | undefined>} */ before,
) {
  for (const repo of repositories(workspace)) {
    const branch = git(repo, "symbolic-ref", "--short", "-q", "HEAD");
    const commit = git(repo, "rev-parse", "HEAD");
    if (!branch || !commit || before.get(repo) === commit) continue;
    const remote = git(repo, "ls-remote", "--heads", "origin", `refs/heads/${branch}`);
    if (remote?.split(/\s+/)[0] === commit) return { branch, commit };
  }
  return undefined;
}
