// How each shipped agent CLI runs through the model gateway in the e2e tier:
// the provider's wire protocol, the key variable the shipped Agent would
// pass (left out: the gateway holds the key), and how an upstream request
// carries the key. The rest is the case the CLI has without the gateway.
import type { ModelProtocol } from "../../../api/v1alpha1/modelprovider.ts";
import type { CliName } from "../../../agents/clis.ts";
import type { RecordedRequest } from "../../../localcluster/model_server/mod.ts";
import { CLI_CASES } from "./cli_cases.ts";

export interface GatewayCase {
  cli: CliName;
  protocol: ModelProtocol;
  /** The provider key variable of the shipped Agent, dropped for the gateway. */
  keyVariable: string;
  /** The Agent's command, where the test needs one. */
  command?: string[];
  /** The key an upstream request carried. */
  keyOf(r: RecordedRequest): string | undefined;
}

export const GATEWAY_CASES: Record<CliName, GatewayCase> = {
  "claude-code": {
    cli: "claude-code",
    protocol: "AnthropicMessages",
    keyVariable: "ANTHROPIC_API_KEY",
    keyOf: CLI_CASES["claude-code"].keyOf,
  },
  codex: {
    cli: "codex",
    protocol: "OpenAIResponses",
    keyVariable: "OPENAI_API_KEY",
    command: CLI_CASES.codex.command,
    keyOf: CLI_CASES.codex.keyOf,
  },
  "gemini-cli": {
    cli: "gemini-cli",
    protocol: "Gemini",
    keyVariable: "GEMINI_API_KEY",
    keyOf: CLI_CASES["gemini-cli"].keyOf,
  },
  opencode: {
    cli: "opencode",
    protocol: "OpenAIChatCompletions",
    keyVariable: "OPENAI_API_KEY",
    keyOf: CLI_CASES.opencode.keyOf,
  },
};
