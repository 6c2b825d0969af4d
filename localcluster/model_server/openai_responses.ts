// OpenAI Responses API (Codex): POST /v1/responses, streamed as SSE
// (response.created, response.output_item.added/done with message or
// function_call items and their deltas, response.completed with usage) or
// answered with one response object.
import {
  type Answer,
  errorHeaders,
  type Incoming,
  json,
  type Protocol,
  sse,
  type SseEvent,
} from "./protocol.ts";
import { textOf, type ToolSpec } from "./script.ts";

type Item =
  | {
    id: string;
    type: "message";
    role: "assistant";
    status: string;
    content: { type: "output_text"; text: string; annotations: [] }[];
  }
  | {
    id: string;
    type: "function_call";
    status: string;
    call_id: string;
    name: string;
    arguments: string;
  }
  | {
    id: string;
    type: "local_shell_call";
    status: string;
    call_id: string;
    action: { type: "exec"; command: string[] };
  };

function inputItems(body: Record<string, unknown>): Record<string, unknown>[] {
  if (typeof body.input === "string") return [{ role: "user", content: body.input }];
  return Array.isArray(body.input) ? body.input : [];
}

function responseObject(id: string, model: string, status: string, output: Item[], usage: unknown) {
  return {
    id,
    object: "response",
    created_at: 1767225600,
    status,
    model,
    output,
    error: null,
    incomplete_details: null,
    usage,
  };
}

function usageOf(input: number, output: number) {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

function render(
  items: Item[],
  id: string,
  model: string,
  input: number,
  output: number,
  stream: boolean,
): Response {
  const usage = usageOf(input, output);
  if (!stream) return json(responseObject(id, model, "completed", items, usage));
  let seq = 0;
  const events: SseEvent[] = [];
  const push = (type: string, data: Record<string, unknown>) =>
    events.push({ event: type, data: { type, sequence_number: seq++, ...data } });
  push("response.created", { response: responseObject(id, model, "in_progress", [], null) });
  push("response.in_progress", { response: responseObject(id, model, "in_progress", [], null) });
  items.forEach((item, output_index) => {
    if (item.type === "message") {
      const text = item.content[0].text;
      push("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress", content: [] },
      });
      const part = { type: "output_text", text: "", annotations: [] };
      push("response.content_part.added", {
        item_id: item.id,
        output_index,
        content_index: 0,
        part,
      });
      for (const delta of pieces(text)) {
        push("response.output_text.delta", {
          item_id: item.id,
          output_index,
          content_index: 0,
          delta,
          logprobs: [],
        });
      }
      push("response.output_text.done", {
        item_id: item.id,
        output_index,
        content_index: 0,
        text,
        logprobs: [],
      });
      push("response.content_part.done", {
        item_id: item.id,
        output_index,
        content_index: 0,
        part: { ...part, text },
      });
    } else if (item.type === "function_call") {
      push("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      for (const delta of pieces(item.arguments)) {
        push("response.function_call_arguments.delta", { item_id: item.id, output_index, delta });
      }
      push("response.function_call_arguments.done", {
        item_id: item.id,
        output_index,
        arguments: item.arguments,
      });
    } else {
      push("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress" },
      });
    }
    push("response.output_item.done", { output_index, item });
  });
  push("response.completed", { response: responseObject(id, model, "completed", items, usage) });
  return sse(events);
}

function pieces(text: string, size = 24): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

export const openaiResponses: Protocol = {
  name: "openai-responses",
  handles: (url) => url.pathname.endsWith("/responses"),
  conversation(req: Incoming) {
    const items = inputItems(req.body);
    const userTexts = items.filter((i) => i.role === "user").map((i) => textOf(i.content));
    const toolResults =
      items.filter((i) => typeof i.type === "string" && i.type.endsWith("_call_output")).length;
    const tools: ToolSpec[] = [];
    for (const t of Array.isArray(req.body.tools) ? req.body.tools : []) {
      if (t?.type === "function" && typeof t.name === "string") {
        tools.push({ name: t.name, schema: t.parameters });
      } else if (t?.type === "local_shell") {
        tools.push({ name: "local_shell" });
      }
    }
    return { userTexts, toolResults, tools };
  },
  respond(answer: Answer, req: Incoming) {
    const items: Item[] = [];
    if (answer.text) {
      items.push({
        id: `msg_${answer.id}`,
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: answer.text, annotations: [] }],
      });
    }
    if (answer.call?.name === "local_shell") {
      items.push({
        id: `lsh_${answer.call.id}`,
        type: "local_shell_call",
        status: "completed",
        call_id: `call_${answer.call.id}`,
        action: { type: "exec", command: ["bash", "-lc", String(answer.call.args.command)] },
      });
    } else if (answer.call) {
      items.push({
        id: `fc_${answer.call.id}`,
        type: "function_call",
        status: "completed",
        call_id: `call_${answer.call.id}`,
        name: answer.call.name,
        arguments: JSON.stringify(answer.call.args),
      });
    }
    return render(
      items,
      `resp_${answer.id}`,
      answer.model,
      answer.inputTokens,
      answer.outputTokens,
      req.body.stream === true,
    );
  },
  generic(req: Incoming) {
    const model = typeof req.body.model === "string" ? req.body.model : "model-server";
    const item: Item = {
      id: "msg_generic",
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "OK", annotations: [] }],
    };
    return render([item], "resp_generic", model, 0, 0, req.body.stream === true);
  },
  error(status: number, message: string) {
    return json({ error: openaiError(status, message) }, status, errorHeaders(status));
  },
};

/** OpenAI's error object, shared with chat completions. */
export function openaiError(status: number, message: string) {
  const [type, code] = status === 401
    ? ["invalid_request_error", "invalid_api_key"]
    : status === 429
    ? ["requests", "rate_limit_exceeded"]
    : status >= 500
    ? ["server_error", null]
    : ["invalid_request_error", null];
  return { message, type, param: null, code };
}
