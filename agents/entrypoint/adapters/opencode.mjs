// @ts-check
// OpenCode, headless: `opencode run --format json` with the task as its
// message and its events on standard output. OpenCode takes its providers and
// models from its config (OPENCODE_CONFIG_CONTENT, or a file the Agent mounts).
import { currentToken } from "../gateway.mjs";
import { optionValue } from "./codex.mjs";
import { oneLine } from "./text.mjs";

const MAX_ARGUMENT = 100_000;

/**
 * The Agent's OpenCode config (OPENCODE_CONFIG_CONTENT) with one more
 * provider, `kubetask`: OpenAI-compatible at the gateway, the token as its
 * key (from a variable: OpenCode reads it once, when it loads the config),
 * and the config's model as that provider's model (an Agent's `-m` must
 * name `kubetask/<model>`). Everything else the Agent configured is kept.
 */
export function gatewayConfig(
  /** @type {import("../gateway.mjs").GatewayAccess} */ gateway,
  /** @type {NodeJS.ProcessEnv} */ env,
) {
  /** @type {Record<string, any>} */
  let config = {};
  try {
    config = JSON.parse(env.OPENCODE_CONFIG_CONTENT || "{}");
  } catch {
    throw new Error("OPENCODE_CONFIG_CONTENT is not JSON: cannot add the KubeTask gateway to it");
  }
  /** @type {string} */
  const chosen = typeof config.model === "string" ? config.model : "gpt-5";
  const id = chosen.includes("/") ? chosen.slice(chosen.indexOf("/") + 1) : chosen;
  return {
    ...config,
    provider: {
      ...config.provider,
      kubetask: {
        npm: "@ai-sdk/openai-compatible",
        name: "KubeTask model gateway",
        options: { baseURL: `${gateway.url}/v1`, apiKey: `{env:${TOKEN_VARIABLE}}` },
        models: { [id]: { name: id, tool_call: true } },
      },
    },
    model: `kubetask/${id}`,
  };
}

const TOKEN_VARIABLE = "KUBETASK_GATEWAY_TOKEN";

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
  // OpenCode (a Bun binary) trusts the CA by NODE_EXTRA_CA_CERTS.
  viaGateway(gateway, env) {
    return {
      env: {
        OPENCODE_CONFIG_CONTENT: JSON.stringify(gatewayConfig(gateway, env)),
        [TOKEN_VARIABLE]: currentToken(gateway),
      },
      args: [],
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
