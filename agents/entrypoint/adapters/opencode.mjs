// @ts-check
// OpenCode, headless: `opencode run --format json` with the task as its
// message and its events on standard output. OpenCode takes its providers and
// models from its config (OPENCODE_CONFIG_CONTENT, or a file the Agent mounts).
import { optionValue } from "./codex.mjs";
import { oneLine } from "./text.mjs";

const MAX_ARGUMENT = 100_000;

/** @type {import("./adapter.mjs").Adapter} */
export const opencode = {
  name: "opencode",
  command(extraArgs, prompt) {
    // `run` takes its message as arguments only, and one argument holds at
    // most 128 KiB: a longer task.md goes as an attached file.
    const message = prompt.length <= MAX_ARGUMENT
      ? [prompt]
      : ["-f", "task.md", "Do the task described in the attached task.md."];
    return {
      command: "opencode",
      // The pod is the sandbox: approve what the config does not deny.
      args: ["run", "--format", "json", "--auto", ...extraArgs, ...message],
      model: optionValue(extraArgs, ["-m", "--model"]),
    };
  },
  onEvent(event, run) {
    const part = event.part ?? {};
    if (event.type === "text" && part.text?.trim()) {
      run.finalText = part.text.trim();
      return [`says: ${oneLine(part.text, 1000)}`];
    }
    if (event.type === "tool_use") {
      const state = part.state ?? {};
      const input = state.input?.command ?? JSON.stringify(state.input ?? {});
      return [
        `tool ${part.tool}: ${input}`,
        `tool result${state.status === "completed" ? "" : ` (${state.status})`}: ${
          oneLine(state.output ?? state.error)
        }`,
      ];
    }
    if (event.type === "step_finish") {
      const tokens = part.tokens ?? {};
      const before = run.usage ?? {};
      run.usage = {
        inputTokens: (before.inputTokens ?? 0) + (tokens.input ?? 0) + (tokens.cache?.read ?? 0),
        outputTokens: (before.outputTokens ?? 0) + (tokens.output ?? 0) + (tokens.reasoning ?? 0),
        costUSD: (before.costUSD ?? 0) + (part.cost ?? 0),
        model: run.model,
      };
      return [];
    }
    if (event.type === "error") {
      const e = event.error ?? {};
      run.failed = true;
      run.lastError = [
        e.data?.statusCode && `model API answered ${e.data.statusCode}`,
        e.data?.message ?? e.name,
      ]
        .filter(Boolean).join(": ");
      return [`error: ${oneLine(run.lastError)}`];
    }
    return [];
  },
};
