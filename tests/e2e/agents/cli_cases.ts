// How each shipped agent CLI is pointed at the scripted model server in the
// e2e tier, and how its requests carry the API key: everything else is the
// shipped Agent YAML as a user applies it.
import type { CliName } from "../../../agents/clis.ts";
import type { RecordedRequest } from "../../../localcluster/model_server/mod.ts";

export interface CliCase {
  cli: CliName;
  /** The shipped Secret's values for this test (API key, token, model server). */
  secret(key: string, gitToken: string, modelUrl: string): Record<string, string>;
  /** Variables from the Secret's keys that point the CLI at the model server. */
  env: Record<string, string>;
  /** The Agent's command, where the test needs one. */
  command?: string[];
  /** The API key a request carried. */
  keyOf(r: RecordedRequest): string | undefined;
  /** How the entrypoint logs the CLI running `command` with its shell tool. */
  toolLine(command: string): string;
}

const bearer = (r: RecordedRequest) => r.headers["authorization"]?.replace(/^Bearer /, "");

export const CLI_CASES: Record<CliName, CliCase> = {
  "claude-code": {
    cli: "claude-code",
    secret: (key, token, url) => ({
      "anthropic-api-key": key,
      "git-token": token,
      "base-url": url,
    }),
    env: { ANTHROPIC_BASE_URL: "base-url" },
    keyOf: (r) => r.headers["x-api-key"],
    toolLine: (c) => `tool Bash: ${c}`,
  },
  codex: {
    cli: "codex",
    secret: (key, token, url) => ({
      "openai-api-key": key,
      "git-token": token,
      "base-url": `${url}/v1`,
    }),
    env: { OPENAI_BASE_URL: "base-url" },
    // A model whose tools the scripted server knows (Codex's default uses others).
    command: ["kubetask-agent", "codex", "--", "-m", "gpt-5"],
    keyOf: bearer,
    // Codex runs commands through $SHELL -lc, quoting as the shell needs.
    toolLine: (c) => `tool shell: /bin/bash -lc '${c}'`,
  },
  "gemini-cli": {
    cli: "gemini-cli",
    secret: (key, token, url) => ({
      "gemini-api-key": key,
      "git-token": token,
      "base-url": url,
    }),
    env: { GOOGLE_GEMINI_BASE_URL: "base-url" },
    keyOf: (r) => r.headers["x-goog-api-key"],
    toolLine: (c) => `tool run_shell_command: ${c}`,
  },
  opencode: {
    cli: "opencode",
    secret: (key, token, url) => ({
      // OpenCode's own config: an OpenAI-compatible provider at the model server.
      "opencode-config": JSON.stringify({
        provider: {
          scripted: {
            npm: "@ai-sdk/openai-compatible",
            name: "Scripted model server",
            options: { baseURL: `${url}/v1`, apiKey: "{env:OPENAI_API_KEY}" },
            models: { m1: { name: "m1", tool_call: true } },
          },
        },
        model: "scripted/m1",
        autoupdate: false,
        share: "disabled",
      }),
      "openai-api-key": key,
      "git-token": token,
    }),
    env: {},
    keyOf: bearer,
    toolLine: (c) => `tool bash: ${c}`,
  },
};
