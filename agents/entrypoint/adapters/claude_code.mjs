// @ts-check
// Claude Code, headless: `claude -p` with the task on standard input and its
// stream-json events on standard output (one JSON object a line).

import { oneLine } from "./text.mjs";

/** @type {import("./adapter.mjs").Adapter} */
export const claudeCode = {
  name: "claude-code",
  command(extraArgs) {
    return {
      command: "claude",
      args: [
        "-p",
        // Refused as root: the images run as an unprivileged user.
        "--dangerously-skip-permissions",
        "--output-format",
        "stream-json",
        "--verbose",
        ...extraArgs,
      ],
      promptOnStdin: true,
    };
  },
  // The token is re-read through apiKeyHelper (every minute, and after a 401),
  // so a run outlives the kubelet's rotation of the projected token.
  viaGateway(gateway) {
    return {
      env: { ANTHROPIC_BASE_URL: gateway.url, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: "60000" },
      args: ["--settings", JSON.stringify({ apiKeyHelper: `cat ${gateway.tokenFile}` })],
    };
  },
  onEvent(event, run) {
    /** @type {string[]} */
    const out = [];
    if (event.type === "system" && event.subtype === "init") {
      run.model = event.model;
      out.push(`model ${event.model}, working in ${event.cwd}`);
    } else if (event.type === "system" && event.subtype === "api_retry") {
      out.push(
        `model API answered ${event.error_status} (${event.error}); retry ${event.attempt} of ${event.max_retries}`,
      );
      run.lastError = `model API error ${event.error_status}: ${event.error}`;
    } else if (event.type === "assistant") {
      for (const block of event.message?.content ?? []) {
        if (block.type === "text" && block.text?.trim()) {
          out.push(`says: ${oneLine(block.text, 1000)}`);
        }
        if (block.type === "tool_use") out.push(`tool ${block.name}: ${toolInput(block.input)}`);
      }
    } else if (event.type === "user") {
      for (const block of event.message?.content ?? []) {
        if (block.type === "tool_result") {
          out.push(`tool result${block.is_error ? " (error)" : ""}: ${toolResult(block.content)}`);
        }
      }
    } else if (event.type === "result") {
      run.finalText = event.result ?? "";
      run.failed = !!event.is_error;
      if (event.api_error_status) run.lastError = `model API answered ${event.api_error_status}`;
      const u = event.usage ?? {};
      run.usage = {
        inputTokens: (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) +
          (u.cache_read_input_tokens ?? 0),
        outputTokens: u.output_tokens ?? 0,
        costUSD: event.total_cost_usd,
        model: run.model,
      };
      out.push(
        `result: ${event.subtype}${
          event.is_error ? " (error)" : ""
        } after ${event.num_turns} turns`,
      );
    }
    return out;
  },
};

/** A tool's result (text or text blocks) on one line. */
function toolResult(/** @type {any} */ content) {
  return oneLine(Array.isArray(content) ? content.map((c) => c?.text ?? "").join(" ") : content);
}

/** A tool's input as one line: the command for a shell, else compact JSON. */
function toolInput(/** @type {any} */ input) {
  if (typeof input?.command === "string") return input.command;
  return JSON.stringify(input ?? {});
}
