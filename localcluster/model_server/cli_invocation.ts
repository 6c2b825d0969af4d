// How to run each agent CLI headless against a model server: its command
// line (structured output, no prompts), its environment and the config files
// it needs in HOME. Proven against the real CLIs by
// tests/unit/model_server/real_clis.test.ts.
import type { CliName } from "../../agents/clis.ts";

export interface CliRun {
  /** argv, starting with the executable. */
  args: string[];
  env: Record<string, string>;
  /** Files to write under HOME before the run, by path relative to HOME. */
  files: Record<string, string>;
}

export interface CliRunOptions {
  executable: string;
  /** The model server's base URL, no trailing slash. */
  baseUrl: string;
  apiKey: string;
  prompt: string;
  home: string;
}

export function cliInvocation(name: CliName, o: CliRunOptions): CliRun {
  switch (name) {
    case "claude-code":
      // Refuses --dangerously-skip-permissions as root: run it as another user.
      return {
        args: [
          o.executable,
          "-p",
          o.prompt,
          "--dangerously-skip-permissions",
          "--output-format",
          "stream-json",
          "--verbose",
        ],
        env: {
          HOME: o.home,
          ANTHROPIC_BASE_URL: o.baseUrl,
          ANTHROPIC_API_KEY: o.apiKey,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          DISABLE_AUTOUPDATER: "1",
        },
        files: {},
      };
    case "codex":
      return {
        args: [
          o.executable,
          "exec",
          "--json",
          "--skip-git-repo-check",
          "--dangerously-bypass-approvals-and-sandbox",
          "-m",
          "gpt-5",
          "-c",
          "model_provider=kubetask",
          "-c",
          `model_providers.kubetask={name="kubetask",base_url=${
            JSON.stringify(`${o.baseUrl}/v1`)
          },env_key="OPENAI_API_KEY",wire_api="responses"}`,
          o.prompt,
        ],
        env: { HOME: o.home, CODEX_HOME: `${o.home}/.codex`, OPENAI_API_KEY: o.apiKey },
        files: { ".codex/config.toml": "" },
      };
    case "gemini-cli":
      return {
        args: [o.executable, "-p", o.prompt, "--yolo", "--output-format", "stream-json"],
        env: { HOME: o.home, GOOGLE_GEMINI_BASE_URL: o.baseUrl, GEMINI_API_KEY: o.apiKey },
        files: {
          ".gemini/settings.json": JSON.stringify({
            security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
          }),
        },
      };
    case "opencode":
      return {
        args: [o.executable, "run", "--format", "json", "-m", "kubetask/scripted", o.prompt],
        env: { HOME: o.home, KUBETASK_MODEL_API_KEY: o.apiKey },
        files: {
          ".config/opencode/opencode.json": JSON.stringify(
            {
              provider: {
                kubetask: {
                  npm: "@ai-sdk/openai-compatible",
                  name: "KubeTask scripted model",
                  options: { baseURL: `${o.baseUrl}/v1`, apiKey: "{env:KUBETASK_MODEL_API_KEY}" },
                  models: { scripted: { name: "scripted", tool_call: true } },
                },
              },
              model: "kubetask/scripted",
              permission: { bash: "allow", edit: "allow" },
              autoupdate: false,
              share: "disabled",
            },
            null,
            2,
          ),
        },
      };
  }
}
