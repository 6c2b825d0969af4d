// OpenAI-compatible chat completions (OpenCode's openai-compatible provider):
// POST /v1/chat/completions, streamed as `data:` chunks (content deltas,
// tool_calls deltas, finish_reason, a usage chunk, `data: [DONE]`) or
// answered with one chat.completion object.
import { openaiError } from "./openai_responses.ts";
import { type Answer, errorHeaders, type Incoming, json, type Protocol, sse } from "./protocol.ts";
import { textOf, type ToolSpec } from "./script.ts";

interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

const created = 1767225600;

function render(
  text: string | undefined,
  call: ToolCall | undefined,
  id: string,
  model: string,
  input: number,
  output: number,
  stream: boolean,
): Response {
  const finish = call ? "tool_calls" : "stop";
  const usage = { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
  if (!stream) {
    return json({
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: text ?? null,
          ...(call ? { tool_calls: [call] } : {}),
        },
        finish_reason: finish,
      }],
      usage,
    });
  }
  const chunk = (delta: unknown, finishReason: string | null = null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });
  const chunks: unknown[] = [chunk({ role: "assistant", content: "" })];
  for (const piece of split(text ?? "")) chunks.push(chunk({ content: piece }));
  if (call) {
    chunks.push(chunk({
      tool_calls: [{
        index: 0,
        id: call.id,
        type: "function",
        function: { name: call.function.name, arguments: "" },
      }],
    }));
    for (const piece of split(call.function.arguments)) {
      chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
  }
  chunks.push(chunk({}, finish));
  chunks.push({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
  return sse([...chunks.map((data) => ({ data })), { data: "[DONE]" }]);
}

function split(text: string, size = 24): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

type Message = { role?: string; content?: unknown };

export const chatCompletions: Protocol = {
  name: "chat-completions",
  handles: (url) => url.pathname.endsWith("/chat/completions"),
  conversation(req: Incoming) {
    const messages: Message[] = Array.isArray(req.body.messages) ? req.body.messages : [];
    const userTexts = messages.filter((m) => m.role === "user").map((m) => textOf(m.content));
    const toolResults = messages.filter((m) => m.role === "tool").length;
    const tools: ToolSpec[] = [];
    for (const t of Array.isArray(req.body.tools) ? req.body.tools : []) {
      if (typeof t?.function?.name === "string") {
        tools.push({ name: t.function.name, schema: t.function.parameters });
      }
    }
    return { userTexts, toolResults, tools };
  },
  respond(answer: Answer, req: Incoming) {
    const call: ToolCall | undefined = answer.call && {
      id: `call_${answer.call.id}`,
      type: "function",
      function: { name: answer.call.name, arguments: JSON.stringify(answer.call.args) },
    };
    return render(
      answer.text,
      call,
      `chatcmpl-${answer.id}`,
      answer.model,
      answer.inputTokens,
      answer.outputTokens,
      req.body.stream === true,
    );
  },
  generic(req: Incoming) {
    const model = typeof req.body.model === "string" ? req.body.model : "model-server";
    return render("OK", undefined, "chatcmpl-generic", model, 0, 0, req.body.stream === true);
  },
  error(status: number, message: string) {
    return json({ error: openaiError(status, message) }, status, errorHeaders(status));
  },
};
