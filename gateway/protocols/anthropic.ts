// Anthropic Messages (Claude Code): usage from message_start and the cumulative
// output_tokens of message_delta; cache tokens are reported apart from input.
import type { ExchangeSummary, ProtocolModule, Tokens } from "../types.ts";
import { jsonStreamMeter } from "./meter.ts";
import { arr, count, limit, obj, str, textOf, usageField } from "./json.ts";

function tokensOf(u: Record<string, unknown>, base?: Tokens): Tokens {
  const has = (k: string) => typeof u[k] === "number";
  return {
    input: has("input_tokens") ? count(u.input_tokens) : base?.input ?? 0,
    output: has("output_tokens") ? count(u.output_tokens) : base?.output ?? 0,
    cacheRead: has("cache_read_input_tokens")
      ? count(u.cache_read_input_tokens)
      : base?.cacheRead ?? 0,
    cacheWrite: has("cache_creation_input_tokens")
      ? count(u.cache_creation_input_tokens)
      : base?.cacheWrite ?? 0,
  };
}

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
};

export const anthropicMessages: ProtocolModule = {
  name: "anthropic-messages",
  requestFacts(path, body) {
    const b = obj(body);
    // Counting tokens generates none.
    const maxOutputTokens = path.endsWith("/count_tokens") ? 0 : limit(b.max_tokens);
    return { model: str(b.model), maxOutputTokens, stream: b.stream === true };
  },
  usageFromJson(body) {
    return usageField(body, tokensOf);
  },
  meter: jsonStreamMeter((d, _e, usage) => {
    if (d.type === "message_start") return { usage: tokensOf(obj(obj(d.message).usage)) };
    // A delta's usage adds to what message_start reported.
    if (d.type === "message_delta") return { usage: usageField(d, (u) => tokensOf(u, usage)) };
    const delta = obj(d.delta);
    return d.type === "content_block_delta" && delta.type === "text_delta"
      ? { text: str(delta.text) }
      : {};
  }),
  errorBody(status, message) {
    return {
      type: "error",
      error: { type: errorTypes[status] ?? "api_error", message },
    };
  },
  summarize(request, response, events) {
    const out: ExchangeSummary = { assistantText: "", toolCalls: [] };
    const messages = arr(obj(request).messages).map(obj);
    const lastUser = messages.filter((m) => m.role === "user").at(-1);
    if (lastUser) out.lastUserMessage = userText(lastUser.content);
    if (events) {
      const inputs = new Map<number, { name: string; input: string }>();
      for (const e of events.map(obj)) {
        if (e.type === "content_block_start" && obj(e.content_block).type === "tool_use") {
          const call = { name: str(obj(e.content_block).name) ?? "?", input: "" };
          inputs.set(count(e.index), call);
          out.toolCalls.push(call);
        } else if (e.type === "content_block_delta") {
          const delta = obj(e.delta);
          if (delta.type === "text_delta") out.assistantText += str(delta.text) ?? "";
          const call = inputs.get(count(e.index));
          if (call && delta.type === "input_json_delta") {
            call.input += str(delta.partial_json) ?? "";
          }
        }
      }
    } else {
      for (const block of arr(obj(response).content).map(obj)) {
        if (block.type === "text") out.assistantText += str(block.text) ?? "";
        if (block.type === "tool_use") {
          out.toolCalls.push({ name: str(block.name) ?? "?", input: JSON.stringify(block.input) });
        }
      }
    }
    return out;
  },
};

function userText(content: unknown): string {
  if (!Array.isArray(content)) return textOf(content);
  return content.map(obj).map((b) =>
    b.type === "tool_result" ? `[tool result] ${textOf(b.content)}` : textOf(b)
  ).filter((t) => t !== "").join("\n");
}
