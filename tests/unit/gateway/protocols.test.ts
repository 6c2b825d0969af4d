// The protocol modules on their own: request facts, usage from JSON and from
// streamed events (cache tokens counted once), error bodies.
import assert from "assert";
import {
  anthropicMessages,
  gemini,
  guessProtocol,
  openaiChatCompletions,
  openaiResponses,
} from "../../../gateway/protocols/mod.ts";
import type { ProtocolModule, SseEvent } from "../../../gateway/types.ts";

function metered(p: ProtocolModule, events: unknown[]) {
  const m = p.meter();
  for (const e of events) m.event({ data: JSON.stringify(e) } as SseEvent);
  m.event({ data: "[DONE]" });
  m.event({ data: "not json {" });
  return { usage: m.usage(), text: m.text() };
}

Deno.test("anthropic: facts, JSON usage with cache tokens apart, stream usage cumulative", () => {
  const p = anthropicMessages;
  assert.deepEqual(p.requestFacts("/v1/messages", { model: "c", max_tokens: 64, stream: true }), {
    model: "c",
    maxOutputTokens: 64,
    stream: true,
  });
  // Hostile values set no limit (the provider default applies) and count nothing.
  assert.equal(p.requestFacts("/v1/messages", { max_tokens: -5 }).maxOutputTokens, undefined);
  assert.equal(p.requestFacts("/v1/messages", { max_tokens: "9" }).maxOutputTokens, undefined);
  assert.deepEqual(
    p.usageFromJson({
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 7,
      },
    }),
    { input: 10, output: 5, cacheRead: 100, cacheWrite: 7 },
  );
  assert.equal(p.usageFromJson({ content: [] }), undefined);
  const { usage, text } = metered(p, [
    {
      type: "message_start",
      message: {
        usage: {
          input_tokens: 10,
          output_tokens: 1,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 7,
        },
      },
    },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } },
    { type: "message_delta", usage: { output_tokens: 20 } },
    { type: "message_delta", usage: { output_tokens: 42 } },
  ]);
  assert.deepEqual(usage, { input: 10, output: 42, cacheRead: 100, cacheWrite: 7 });
  assert.equal(text, "Hello");
  assert.deepEqual(p.errorBody(401, "no"), {
    type: "error",
    error: { type: "authentication_error", message: "no" },
  });
});

Deno.test("openai responses: cached tokens are part of input, counted once as cache reads", () => {
  const p = openaiResponses;
  assert.deepEqual(p.requestFacts("/v1/responses", { model: "g", max_output_tokens: 9 }), {
    model: "g",
    maxOutputTokens: 9,
    stream: false,
  });
  const u = { input_tokens: 100, output_tokens: 8, input_tokens_details: { cached_tokens: 60 } };
  assert.deepEqual(p.usageFromJson({ usage: u }), {
    input: 40,
    output: 8,
    cacheRead: 60,
    cacheWrite: 0,
  });
  const { usage, text } = metered(p, [
    { type: "response.created", response: { usage: null } },
    { type: "response.output_text.delta", delta: "Hi" },
    { type: "response.completed", response: { usage: u } },
  ]);
  assert.deepEqual(usage, { input: 40, output: 8, cacheRead: 60, cacheWrite: 0 });
  assert.equal(text, "Hi");
  // More cached than input (hostile): never negative.
  assert.deepEqual(
    p.usageFromJson({ usage: { input_tokens: 5, input_tokens_details: { cached_tokens: 9 } } }),
    { input: 0, output: 0, cacheRead: 5, cacheWrite: 0 },
  );
});

Deno.test("openai chat completions: max_completion_tokens over max_tokens; usage chunk; include_usage added", () => {
  const p = openaiChatCompletions;
  assert.equal(
    p.requestFacts("/v1/chat/completions", { max_completion_tokens: 7, max_tokens: 9 })
      .maxOutputTokens,
    7,
  );
  assert.equal(p.requestFacts("/v1/chat/completions", { max_tokens: 9 }).maxOutputTokens, 9);
  const { usage, text } = metered(p, [
    { choices: [{ delta: { content: "a" } }] },
    { choices: [{ delta: { content: "b" } }] },
    {
      choices: [],
      usage: {
        prompt_tokens: 50,
        completion_tokens: 4,
        prompt_tokens_details: { cached_tokens: 10 },
      },
    },
  ]);
  assert.deepEqual(usage, { input: 40, output: 4, cacheRead: 10, cacheWrite: 0 });
  assert.equal(text, "ab");
  assert.deepEqual(p.rewriteRequest!({ stream: true, stream_options: { x: 1 } }), {
    stream: true,
    stream_options: { x: 1, include_usage: true },
  });
  assert.equal(p.rewriteRequest!({ stream: false }), undefined);
  assert.equal(
    p.rewriteRequest!({ stream: true, stream_options: { include_usage: true } }),
    undefined,
  );
});

Deno.test("gemini: model and streaming from the path; the last usageMetadata wins; thoughts are output", () => {
  const p = gemini;
  assert.deepEqual(
    p.requestFacts("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", {
      generationConfig: { maxOutputTokens: 300 },
    }),
    { model: "gemini-2.5-pro", maxOutputTokens: 300, stream: true },
  );
  assert.equal(p.requestFacts("/v1beta/models/x:generateContent", {}).stream, false);
  const meta = (prompt: number, out: number) => ({
    usageMetadata: {
      promptTokenCount: prompt,
      candidatesTokenCount: out,
      cachedContentTokenCount: 20,
      thoughtsTokenCount: 3,
    },
  });
  const { usage, text } = metered(p, [
    { candidates: [{ content: { parts: [{ text: "thinking", thought: true }, { text: "Hi" }] } }] },
    { candidates: [{ content: { parts: [{ text: "!" }] } }], ...meta(100, 5) },
    { candidates: [{ content: { parts: [] } }], ...meta(100, 9) },
  ]);
  assert.deepEqual(usage, { input: 80, output: 12, cacheRead: 20, cacheWrite: 0 });
  assert.equal(text, "Hi!");
  // streamGenerateContent without alt=sse answers a JSON array.
  assert.deepEqual(p.usageFromJson([{}, meta(10, 1), meta(10, 2)]), {
    input: 0,
    output: 5,
    cacheRead: 10,
    cacheWrite: 0,
  });
  assert.deepEqual(p.errorBody(400, "m"), {
    error: { code: 400, message: "m", status: "FAILED_PRECONDITION" },
  });
});

Deno.test("protocols: the error shape of a refusal made before the provider is known", () => {
  assert.equal(guessProtocol("/v1/messages"), "anthropic-messages");
  assert.equal(guessProtocol("/v1/responses"), "openai-responses");
  assert.equal(guessProtocol("/v1/chat/completions"), "openai-chat-completions");
  assert.equal(guessProtocol("/v1beta/models/g:generateContent"), "gemini");
});
