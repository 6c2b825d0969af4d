// The protocol modules by name.
import type { ProtocolModule, ProtocolName } from "../types.ts";
import { anthropicMessages } from "./anthropic.ts";
import { gemini } from "./gemini.ts";
import { openaiChatCompletions } from "./openai_chat.ts";
import { openaiResponses } from "./openai_responses.ts";

const modules: Record<ProtocolName, ProtocolModule> = {
  "anthropic-messages": anthropicMessages,
  "openai-responses": openaiResponses,
  "openai-chat-completions": openaiChatCompletions,
  "gemini": gemini,
};

export function protocolModule(name: ProtocolName): ProtocolModule {
  return modules[name];
}

/** The protocol a path most likely speaks: for the error shape of a refusal made before the
 *  provider (and so its protocol) is known. */
export function guessProtocol(path: string): ProtocolName {
  if (/\/models\/[^/]+:/.test(path)) return "gemini";
  if (path.includes("/messages")) return "anthropic-messages";
  if (path.includes("/responses")) return "openai-responses";
  return "openai-chat-completions";
}

export { anthropicMessages, gemini, openaiChatCompletions, openaiResponses };
