// Anthropic Messages API (Claude Code): POST /v1/messages, streamed as SSE
// (message_start, content_block_start/delta/stop, message_delta, message_stop)
// or as one JSON message; POST /v1/messages/count_tokens.
import {
  type Answer,
  errorHeaders,
  type Incoming,
  json,
  type Protocol,
  sse,
  type SseEvent,
} from "./protocol.ts";
import { inputTokensFor, textOf, type ToolSpec } from "./script.ts";

type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

function messages(body: Record<string, unknown>): { role?: string; content?: unknown }[] {
  return Array.isArray(body.messages) ? body.messages : [];
}

function usage(input: number, output: number) {
  return {
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

function render(
  blocks: Block[],
  model: string,
  id: string,
  input: number,
  output: number,
  stream: boolean,
) {
  const stopReason = blocks.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn";
  if (!stream) {
    return json({
      id,
      type: "message",
      role: "assistant",
      model,
      content: blocks,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: usage(input, output),
    });
  }
  const events: SseEvent[] = [{
    event: "message_start",
    data: {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usage(input, 1),
      },
    },
  }];
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      events.push({
        event: "content_block_start",
        data: { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      });
      for (const piece of chunks(block.text)) {
        events.push({
          event: "content_block_delta",
          data: { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } },
        });
      }
    } else {
      events.push({
        event: "content_block_start",
        data: {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        },
      });
      for (const piece of chunks(JSON.stringify(block.input))) {
        events.push({
          event: "content_block_delta",
          data: {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json: piece },
          },
        });
      }
    }
    events.push({ event: "content_block_stop", data: { type: "content_block_stop", index } });
  });
  events.push({
    event: "message_delta",
    data: {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: output },
    },
  });
  events.push({ event: "message_stop", data: { type: "message_stop" } });
  return sse(events);
}

/** Splits text into a few deltas, as a real stream would. */
function chunks(text: string, size = 24): string[] {
  if (text === "") return [""];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export const anthropic: Protocol = {
  name: "anthropic",
  handles: (url) => /\/v1\/messages(\/count_tokens)?$/.test(url.pathname),
  conversation(req: Incoming) {
    if (req.url.pathname.endsWith("/count_tokens")) return undefined;
    const msgs = messages(req.body);
    const userTexts = msgs.filter((m) => m.role === "user").map((m) => textOf(m.content));
    let toolResults = 0;
    for (const m of msgs) {
      if (!Array.isArray(m.content)) continue;
      for (const block of m.content) {
        if ((block as { type?: string })?.type === "tool_result") toolResults++;
      }
    }
    const tools: ToolSpec[] = (Array.isArray(req.body.tools) ? req.body.tools : [])
      .filter((t: { name?: unknown }) => typeof t?.name === "string")
      .map((t: { name: string; input_schema?: unknown }) => ({
        name: t.name,
        schema: t.input_schema,
      }));
    return { userTexts, toolResults, tools };
  },
  respond(answer: Answer, req: Incoming) {
    const blocks: Block[] = [];
    if (answer.text) blocks.push({ type: "text", text: answer.text });
    if (answer.call) {
      blocks.push({
        type: "tool_use",
        id: `toolu_${answer.call.id}`,
        name: answer.call.name,
        input: answer.call.args,
      });
    }
    const id = `msg_${answer.id}`;
    return render(
      blocks,
      answer.model,
      id,
      answer.inputTokens,
      answer.outputTokens,
      req.body.stream === true,
    );
  },
  generic(req: Incoming) {
    if (req.url.pathname.endsWith("/count_tokens")) {
      return json({ input_tokens: inputTokensFor(req.bodyText) });
    }
    const model = typeof req.body.model === "string" ? req.body.model : "model-server";
    return render(
      [{ type: "text", text: "OK" }],
      model,
      "msg_generic",
      0,
      0,
      req.body.stream === true,
    );
  },
  error(status: number, message: string) {
    return json(
      { type: "error", error: { type: errorTypes[status] ?? "api_error", message } },
      status,
      { "request-id": "req_model_server", ...errorHeaders(status) },
    );
  },
};
