// OpenAI Responses (Codex): usage in response.completed (and .incomplete /
// .failed); cached tokens are part of input_tokens, counted once as cache reads.
import type { ExchangeSummary, ProtocolModule, Tokens } from "../types.ts";
import { jsonStreamMeter } from "./meter.ts";
import { arr, count, limit, obj, str, textOf, usageField } from "./json.ts";

/** OpenAI's usage under either API's field names (`<input>_details` holds the cached part). */
export function openaiTokens(
  u: Record<string, unknown>,
  names: { input: string; output: string },
): Tokens {
  const input = count(u[names.input]);
  const cached = Math.min(input, count(obj(u[`${names.input}_details`]).cached_tokens));
  return {
    input: input - cached,
    output: count(u[names.output]),
    cacheRead: cached,
    cacheWrite: 0,
  };
}

const tokensOf = (u: Record<string, unknown>) =>
  openaiTokens(u, { input: "input_tokens", output: "output_tokens" });

/** OpenAI's error object, shared with chat completions. */
export function openaiErrorBody(status: number, message: string, code?: string) {
  const type = status === 401
    ? "invalid_request_error"
    : status === 403
    ? "permission_error"
    : "invalid_request_error";
  return { error: { message, type, param: null, code: code ?? null } };
}

const FINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);

export const openaiResponses: ProtocolModule = {
  name: "openai-responses",
  requestFacts(_path, body) {
    const b = obj(body);
    return {
      model: str(b.model),
      maxOutputTokens: limit(b.max_output_tokens),
      stream: b.stream === true,
    };
  },
  usageFromJson(body) {
    return usageField(body, tokensOf);
  },
  meter: jsonStreamMeter((d, e) => {
    const type = str(d.type) ?? e.event;
    if (type === "response.output_text.delta") return { text: str(d.delta) };
    return type && FINAL.has(type) ? { usage: usageField(d.response, tokensOf) } : {};
  }),
  errorBody: openaiErrorBody,
  summarize(request, response, events) {
    const out: ExchangeSummary = { assistantText: "", toolCalls: [] };
    const input = obj(request).input;
    const items = typeof input === "string" ? [{ role: "user", content: input }] : arr(input);
    const last = items.map(obj).filter((i) =>
      i.role === "user" || /_output$/.test(str(i.type) ?? "")
    )
      .at(-1);
    if (last) {
      out.lastUserMessage = last.role === "user"
        ? textOf(last.content)
        : `[tool result] ${textOf(last.output)}`;
    }
    let final = obj(response);
    if (events) {
      const done = events.map(obj).find((e) => FINAL.has(str(e.type) ?? ""));
      final = obj(done?.response);
    }
    for (const item of arr(final.output).map(obj)) {
      if (item.type === "message") out.assistantText += textOf(item.content);
      else if (item.type === "function_call") {
        out.toolCalls.push({ name: str(item.name) ?? "?", input: str(item.arguments) ?? "" });
      } else if (item.type === "local_shell_call") {
        out.toolCalls.push({ name: "local_shell", input: JSON.stringify(item.action) });
      }
    }
    if (events && out.assistantText === "") {
      out.assistantText = events.map(obj).filter((e) => e.type === "response.output_text.delta")
        .map((e) => str(e.delta) ?? "").join("");
    }
    return out;
  },
};
