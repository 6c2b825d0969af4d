// OpenAI chat completions (OpenCode): usage in the chunk that carries it
// (streams report it only with stream_options.include_usage, which the gateway
// adds); cached tokens are part of prompt_tokens, counted once as cache reads.
import type { ExchangeSummary, ProtocolModule } from "../types.ts";
import { jsonStreamMeter } from "./meter.ts";
import { openaiErrorBody, openaiTokens } from "./openai_responses.ts";
import { arr, count, limit, obj, str, textOf, usageField } from "./json.ts";

const tokensOf = (u: Record<string, unknown>) =>
  openaiTokens(u, { input: "prompt_tokens", output: "completion_tokens" });

export const openaiChatCompletions: ProtocolModule = {
  name: "openai-chat-completions",
  requestFacts(_path, body) {
    const b = obj(body);
    return {
      model: str(b.model),
      maxOutputTokens: limit(b.max_completion_tokens) ?? limit(b.max_tokens),
      stream: b.stream === true,
    };
  },
  rewriteRequest(body) {
    const b = obj(body);
    if (b.stream !== true || obj(b.stream_options).include_usage === true) return undefined;
    return { ...b, stream_options: { ...obj(b.stream_options), include_usage: true } };
  },
  usageFromJson(body) {
    return usageField(body, tokensOf);
  },
  meter: jsonStreamMeter((d) => ({
    text: arr(d.choices).map((c) => str(obj(obj(c).delta).content) ?? "").join(""),
    usage: usageField(d, tokensOf),
  })),
  errorBody: openaiErrorBody,
  summarize(request, response, events) {
    const out: ExchangeSummary = { assistantText: "", toolCalls: [] };
    const last = arr(obj(request).messages).map(obj).filter((m) =>
      m.role === "user" || m.role === "tool"
    ).at(-1);
    if (last) {
      out.lastUserMessage = (last.role === "tool" ? "[tool result] " : "") + textOf(last.content);
    }
    if (events) {
      const calls = new Map<number, { name: string; input: string }>();
      for (const e of events.map(obj)) {
        for (const c of arr(e.choices).map(obj)) {
          const delta = obj(c.delta);
          out.assistantText += str(delta.content) ?? "";
          for (const t of arr(delta.tool_calls).map(obj)) {
            const i = count(t.index);
            let call = calls.get(i);
            if (!call) {
              call = { name: "", input: "" };
              calls.set(i, call);
              out.toolCalls.push(call);
            }
            const f = obj(t.function);
            call.name += str(f.name) ?? "";
            call.input += str(f.arguments) ?? "";
          }
        }
      }
    } else {
      const message = obj(obj(arr(obj(response).choices)[0]).message);
      out.assistantText = textOf(message.content);
      for (const t of arr(message.tool_calls).map(obj)) {
        const f = obj(t.function);
        out.toolCalls.push({ name: str(f.name) ?? "?", input: str(f.arguments) ?? "" });
      }
    }
    return out;
  },
};
