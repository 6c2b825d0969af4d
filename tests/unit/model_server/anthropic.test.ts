// The Anthropic Messages protocol over real HTTP: SSE framing, tool_use with
// input_json_delta, turn selection by tool results, failures, usage, generic answers.
import assert from "assert";
import { parseSse, post, withServer } from "./support.ts";

const bash = {
  name: "Bash",
  description: "run a command",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" }, description: { type: "string" } },
    required: ["command"],
  },
};

const script = {
  marker: "MARK-A",
  turns: [
    { text: "Looking first.", shell: "ls -la" },
    { shell: "echo two" },
    { text: "All done." },
  ],
};

function request(toolResults: number, stream = true) {
  const messages: unknown[] = [{
    role: "user",
    content: [{ type: "text", text: "Do MARK-A now" }],
  }];
  for (let i = 0; i < toolResults; i++) {
    messages.push({
      role: "assistant",
      content: [{ type: "tool_use", id: `t${i}`, name: "Bash", input: {} }],
    });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: `t${i}`, content: "ok" }],
    });
  }
  return { model: "claude-test", max_tokens: 100, stream, tools: [bash], messages };
}

Deno.test("anthropic: streamed turns follow the tool results in the conversation", async () => {
  await withServer([script], async (server) => {
    const res = await post(`${server.url}/v1/messages?beta=true`, request(0), {
      "x-api-key": "sk-1",
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const frames = parseSse(await res.text());
    // Deltas repeat (text and JSON come in pieces): compare the event sequence without repeats.
    const sequence = frames.map((f) => f.event).filter((e, i, all) => e !== all[i - 1]);
    assert.deepEqual(sequence, [
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    for (const f of frames) assert.equal(JSON.parse(f.data).type, f.event);
    const start = frames.map((f) =>
      JSON.parse(f.data)
    ).filter((d) => d.type === "content_block_start")[1];
    assert.equal(start.content_block.type, "tool_use");
    assert.equal(start.content_block.name, "Bash");
    const json = frames.filter((f) => f.event === "content_block_delta").map((f) =>
      JSON.parse(f.data).delta
    )
      .filter((d) => d.type === "input_json_delta").map((d) => d.partial_json).join("");
    assert.deepEqual(JSON.parse(json), {
      command: "ls -la",
      description: "Runs the scripted command",
    });
    const delta = JSON.parse(frames.at(-2)!.data);
    assert.equal(delta.delta.stop_reason, "tool_use");
    const input = JSON.parse(frames[0].data).message.usage.input_tokens;

    // The same conversation again (a retry) gets the same turn; one more tool result, the next.
    const again = parseSse(await (await post(`${server.url}/v1/messages`, request(0))).text());
    assert.equal(again.map((f) => f.data).join(""), frames.map((f) => f.data).join(""));
    const second = parseSse(await (await post(`${server.url}/v1/messages`, request(1))).text());
    assert.match(second.map((f) => f.data).join(""), /echo two/);
    const last = parseSse(await (await post(`${server.url}/v1/messages`, request(2))).text());
    const texts = last.map((f) => JSON.parse(f.data)).filter((d) => d.delta?.type === "text_delta");
    assert.equal(texts.map((d) => d.delta.text).join(""), "All done.");
    assert.equal(JSON.parse(last.at(-2)!.data).delta.stop_reason, "end_turn");

    assert.equal(server.requests.length, 4);
    assert.deepEqual(server.requests.map((r) => [r.protocol, r.marker, r.turn, r.status]), [
      ["anthropic", "MARK-A", 0, 200],
      ["anthropic", "MARK-A", 0, 200],
      ["anthropic", "MARK-A", 1, 200],
      ["anthropic", "MARK-A", 2, 200],
    ]);
    assert.equal(server.requests[0].headers["x-api-key"], "sk-1");
    assert.equal(server.requests[0].path, "/v1/messages?beta=true");
    const usage = server.usage("MARK-A");
    assert.ok(usage.inputTokens > input * 3, "four answered turns, each at least the first's size");
    assert.ok(usage.outputTokens > 0);
    assert.deepEqual(server.usage("nobody"), { inputTokens: 0, outputTokens: 0 });
  });
});

Deno.test("anthropic: non-streaming answer and the usage it reports add up", async () => {
  await withServer([script], async (server) => {
    let input = 0, output = 0;
    for (let i = 0; i < 3; i++) {
      const res = await post(`${server.url}/v1/messages`, request(i, false));
      assert.equal(res.status, 200);
      const msg = await res.json();
      assert.equal(msg.type, "message");
      assert.equal(msg.model, "claude-test");
      assert.equal(msg.stop_reason, i < 2 ? "tool_use" : "end_turn");
      input += msg.usage.input_tokens;
      output += msg.usage.output_tokens;
      if (i === 0) {
        assert.deepEqual(msg.content[0], { type: "text", text: "Looking first." });
        assert.equal(msg.content[1].input.command, "ls -la");
      }
    }
    assert.deepEqual(server.usage("MARK-A"), { inputTokens: input, outputTokens: output });
  });
});

Deno.test("anthropic: scripted failures come first, then the turn; 401 says not to retry", async () => {
  const failing = {
    ...script,
    failures: [{ at: 0, status: 429, times: 1 }, {
      at: 1,
      status: 401,
      times: Infinity,
      message: "bad key",
    }],
  };
  await withServer([failing], async (server) => {
    const r1 = await post(`${server.url}/v1/messages`, request(0));
    assert.equal(r1.status, 429);
    assert.equal(r1.headers.get("retry-after"), "1");
    assert.equal((await r1.json()).error.type, "rate_limit_error");
    assert.equal((await post(`${server.url}/v1/messages`, request(0))).status, 200);
    await (await post(`${server.url}/v1/messages`, request(0))).body?.cancel();
    for (let i = 0; i < 3; i++) {
      const r = await post(`${server.url}/v1/messages`, request(1));
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("x-should-retry"), "false");
      assert.deepEqual(await r.json(), {
        type: "error",
        error: { type: "authentication_error", message: "bad key" },
      });
    }
    assert.deepEqual(server.requests.map((r) => r.status), [429, 200, 200, 401, 401, 401]);
    // Failed requests report no usage.
    const ok = server.usage("MARK-A");
    assert.ok(ok.inputTokens > 0);
  });
});

Deno.test("anthropic: requests without a marker or without tools get a generic answer with no usage", async () => {
  await withServer([script], async (server) => {
    const title = await post(`${server.url}/v1/messages`, {
      model: "claude-haiku",
      max_tokens: 10,
      messages: [{ role: "user", content: "Write a title for: Do MARK-A now" }],
    });
    assert.equal((await title.json()).content[0].text, "OK");
    const other = parseSse(
      await (await post(`${server.url}/v1/messages`, {
        ...request(0),
        messages: [{ role: "user", content: "hi" }],
      }))
        .text(),
    );
    assert.equal(other.at(-1)!.event, "message_stop");
    const count = await post(`${server.url}/v1/messages/count_tokens`, request(0));
    assert.ok((await count.json()).input_tokens > 0);
    assert.deepEqual(server.usage("MARK-A"), { inputTokens: 0, outputTokens: 0 });
    assert.deepEqual(server.requests.map((r) => [r.marker, r.turn]), [
      ["MARK-A", undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });
});

Deno.test("anthropic: unknown paths are 404 and recorded", async () => {
  await withServer([script], async (server) => {
    const res = await post(`${server.url}/v2/nothing`, {});
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.equal(server.requests[0].status, 404);
  });
});

Deno.test("anthropic: a turn's usage override is what the answer reports, recorded per request", async () => {
  const heavy = {
    marker: "MARK-A",
    turns: [{ shell: "ls", usage: { inputTokens: 990_000 } }, { text: "done", usage: {} }],
  };
  await withServer([heavy], async (server) => {
    const streamed = parseSse(await (await post(`${server.url}/v1/messages`, request(0))).text());
    assert.equal(JSON.parse(streamed[0].data).message.usage.input_tokens, 990_000);
    const plain = await (await post(`${server.url}/v1/messages`, request(1, false))).json();
    assert.notEqual(plain.usage.input_tokens, 990_000, "no override: derived from the size");
    assert.deepEqual(server.requests.map((r) => r.usage), [
      { inputTokens: 990_000, outputTokens: JSON.parse(streamed.at(-2)!.data).usage.output_tokens },
      { inputTokens: plain.usage.input_tokens, outputTokens: plain.usage.output_tokens },
    ]);
    assert.equal(server.usage("MARK-A").inputTokens, 990_000 + plain.usage.input_tokens);
  });
});
