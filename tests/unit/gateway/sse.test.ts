// The incremental SSE parser: the same events whatever the chunk boundaries.
import assert from "assert";
import { SseParser } from "../../../gateway/sse.ts";

const stream = 'event: message_start\ndata: {"a":1}\n\n' +
  ": a comment\r\n" +
  "event: delta\r\ndata: line one\r\ndata: line two\r\n\r\n" +
  "data: ü and 🚀\r\rdata:no-space\n\n" +
  "data: [DONE]\n\n";

const expected = [
  { event: "message_start", data: '{"a":1}' },
  { event: "delta", data: "line one\nline two" },
  { data: "ü and 🚀" },
  { data: "no-space" },
  { data: "[DONE]" },
];

function parseIn(chunks: Uint8Array[]) {
  const p = new SseParser();
  const out = chunks.flatMap((c) => p.feed(c));
  return [...out, ...p.end()];
}

Deno.test("sse: whole stream in one chunk", () => {
  assert.deepEqual(parseIn([new TextEncoder().encode(stream)]), expected);
});

Deno.test("sse: every split point of the bytes gives the same events (also inside \\r\\n and UTF-8)", () => {
  const bytes = new TextEncoder().encode(stream);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(parseIn([bytes.subarray(0, i), bytes.subarray(i)]), expected, `split at ${i}`);
  }
  // And one byte at a time.
  assert.deepEqual(parseIn([...bytes].map((b) => new Uint8Array([b]))), expected);
});

Deno.test("sse: an event without its closing blank line is not dispatched", () => {
  const p = new SseParser();
  assert.deepEqual(p.feed(new TextEncoder().encode("data: half")), []);
  assert.deepEqual(p.end(), []);
});
