// @ts-check
// Gemini CLI, headless: `gemini --yolo --output-format stream-json` with the
// task on standard input and its events on standard output.
import { mkdirSync, writeFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { currentToken } from "../gateway.mjs";
import { optionValue } from "./codex.mjs";
import { oneLine } from "./text.mjs";

/**
 * Without a settings file Gemini CLI asks how to log in; with it, it uses
 * GEMINI_API_KEY and does not ask whether to trust the workspace (the pod
 * holds nothing else). An existing file (mounted by the Agent) is kept.
 */
export function prepareGeminiSettings(/** @type {string} */ home) {
  const file = join(home, ".gemini", "settings.json");
  if (existsSync(file)) return;
  mkdirSync(join(home, ".gemini"), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
    }),
  );
}

/** @type {import("./adapter.mjs").Adapter} */
export const geminiCli = {
  name: "gemini-cli",
  command(extraArgs, _prompt, env) {
    if (env.HOME) prepareGeminiSettings(env.HOME);
    return {
      command: "gemini",
      // -p with an empty prompt: headless, the task read from standard input.
      args: ["--yolo", "--output-format", "stream-json", ...extraArgs, "-p", ""],
      promptOnStdin: true,
      model: optionValue(extraArgs, ["-m", "--model"]),
    };
  },
  // Gemini CLI reads its key once, from GEMINI_API_KEY (no key command):
  // the token it starts with must outlive the run (the Agent's
  // gateway token expiration). Node trusts the CA by NODE_EXTRA_CA_CERTS.
  viaGateway(gateway) {
    return {
      env: { GOOGLE_GEMINI_BASE_URL: gateway.url, GEMINI_API_KEY: currentToken(gateway) },
      args: [],
    };
  },
  onEvent(event, run) {
    /** @type {string[]} */
    const out = [];
    if (event.type !== "message" || event.role !== "assistant") flushText(run, out);
    if (event.type === "init") {
      run.model ??= event.model === "auto" ? undefined : event.model;
    } else if (event.type === "message" && event.role === "assistant") {
      run.pendingText = (run.pendingText ?? "") + (event.content ?? "");
    } else if (event.type === "tool_use") {
      const input = event.parameters?.command ?? JSON.stringify(event.parameters ?? {});
      out.push(`tool ${event.tool_name}: ${input}`);
    } else if (event.type === "tool_result") {
      out.push(
        `tool result${event.status === "success" ? "" : ` (${event.status})`}: ${
          oneLine(event.output ?? event.error?.message)
        }`,
      );
    } else if (event.type === "result") {
      const stats = event.stats ?? {};
      const models = Object.entries(stats.models ?? {})
        .filter(([, m]) => /** @type {any} */ (m).total_tokens > 0).map(([name]) => name);
      run.usage = {
        inputTokens: stats.input_tokens,
        outputTokens: stats.output_tokens,
        model: run.model ?? models.at(-1),
      };
      if (event.status !== "success") {
        run.failed = true;
        run.lastError = event.error?.message ?? `status ${event.status}`;
      }
      out.push(`result: ${event.status}${run.lastError ? ` (${oneLine(run.lastError)})` : ""}`);
    } else if (event.type === "error") {
      run.lastError = event.message ?? event.error?.message;
      out.push(`error: ${oneLine(run.lastError)}`);
    }
    return out;
  },
};

/** Gemini streams its answer in pieces: one line for the whole piece, once it ends. */
function flushText(
  /** @type {import("./adapter.mjs").RunState} */ run,
  /** @type {string[]} */ out,
) {
  if (!run.pendingText?.trim()) return;
  run.finalText = run.pendingText.trim();
  out.push(`says: ${oneLine(run.finalText, 1000)}`);
  run.pendingText = "";
}
