// @ts-check
// Codex, headless: `codex exec --json` with the task on standard input ("-")
// and its events on standard output (one JSON object a line).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { oneLine } from "./text.mjs";

/**
 * Codex ignores OPENAI_BASE_URL: with it set (a gateway, a proxy), the run
 * gets a model provider of that URL with the key from OPENAI_API_KEY.
 */
export function providerArgs(/** @type {NodeJS.ProcessEnv} */ env) {
  const base = env.OPENAI_BASE_URL;
  if (!base) return [];
  const url = new URL(base); // throws on a value that is not a URL: the run fails saying so
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`OPENAI_BASE_URL must be an http(s) URL, not ${url.protocol}`);
  }
  const toml = tomlString(url.href.replace(/\/$/, ""));
  return [
    "-c",
    `model_providers.kubetask={name="kubetask",base_url=${toml},env_key="OPENAI_API_KEY",wire_api="responses"}`,
    "-c",
    "model_provider=kubetask",
  ];
}

/** A JSON string is a TOML basic string. */
const tomlString = (/** @type {string} */ s) => JSON.stringify(s);

/** @type {import("./adapter.mjs").Adapter} */
export const codex = {
  name: "codex",
  command(extraArgs, _prompt, env) {
    // Codex keeps its state in CODEX_HOME (default ~/.codex) and wants it to exist.
    const home = env.CODEX_HOME ?? (env.HOME ? join(env.HOME, ".codex") : undefined);
    if (home) mkdirSync(home, { recursive: true });
    return {
      command: "codex",
      args: [
        "exec",
        "--json",
        "--skip-git-repo-check",
        // The pod is the sandbox; Codex's own needs privileges the pod does not give.
        "--dangerously-bypass-approvals-and-sandbox",
        ...providerArgs(env),
        ...extraArgs,
        "-",
      ],
      promptOnStdin: true,
      model: optionValue(extraArgs, ["-m", "--model"]),
    };
  },
  // A provider of Codex's own at the gateway; its key is the output of a
  // command (auth.command), run by Codex when it needs a token rather than
  // read once at start. Codex is a native binary with its own TLS roots:
  // NODE_EXTRA_CA_CERTS means nothing to it, CODEX_CA_CERTIFICATE does (and
  // unlike SSL_CERT_FILE it does not replace the roots git and curl use).
  viaGateway(gateway) {
    const provider = `{name="kubetask",base_url=${tomlString(`${gateway.url}/v1`)},` +
      `wire_api="responses",auth={command="cat",args=[${tomlString(gateway.tokenFile)}]}}`;
    return {
      env: { CODEX_CA_CERTIFICATE: gateway.caFile },
      args: ["-c", `model_providers.kubetask=${provider}`, "-c", "model_provider=kubetask"],
    };
  },
  onEvent(event, run) {
    const item = event.item ?? {};
    if (event.type === "item.started" && item.type === "command_execution") {
      return [`tool shell: ${item.command}`];
    }
    if (event.type === "item.completed") {
      if (item.type === "command_execution") {
        return [`tool result (exit ${item.exit_code}): ${oneLine(item.aggregated_output)}`];
      }
      if (item.type === "agent_message") {
        run.finalText = item.text ?? "";
        return [`says: ${oneLine(item.text, 1000)}`];
      }
      if (item.type === "error") return [`note: ${oneLine(item.message)}`];
      return [];
    }
    if (event.type === "turn.completed") {
      const u = event.usage ?? {};
      run.usage = {
        // OpenAI counts cached input inside input_tokens.
        inputTokens: (run.usage?.inputTokens ?? 0) + (u.input_tokens ?? 0),
        outputTokens: (run.usage?.outputTokens ?? 0) + (u.output_tokens ?? 0),
        model: run.model,
      };
      return [`turn done: ${u.input_tokens} input + ${u.output_tokens} output tokens`];
    }
    if (event.type === "turn.failed" || event.type === "error") {
      run.lastError = event.error?.message ?? event.message;
      if (event.type === "turn.failed") run.failed = true;
      return [`error: ${oneLine(run.lastError)}`];
    }
    return [];
  },
};

/** The value after the first of `names` in `args`, if any. */
export function optionValue(/** @type {string[]} */ args, /** @type {string[]} */ names) {
  const i = args.findIndex((a) => names.includes(a));
  return i >= 0 ? args[i + 1] : undefined;
}
