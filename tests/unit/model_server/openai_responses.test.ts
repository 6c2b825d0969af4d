// The OpenAI Responses protocol over real HTTP (what Codex speaks): SSE
// events with sequence numbers, function_call items, turns by
// function_call_output items, failures, usage, generic answers.
import assert from "assert";
import { parseSse, post, withServer } from "./support.ts";

const execCommand = {
  type: "function",
  name: "exec_command",
  parameters: {
    type: "object",
    properties: { cmd: { type: "string" }, workdir: { type: "string" } },
    required: ["cmd"],
  },
};

const script = {
  marker: "MARK-R",
  turns: [{ text: "First a look.", shell: "ls" }, { shell: "echo two" }, { text: "Finished." }],
};

function request(toolResults: number, stream = true) {
  const input: unknown[] = [
    { type: "message", role: "developer", content: [{ type: "input_text", text: "be nice" }] },
    {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Task MARK-R please" }],
    },
  ];
  for (let i = 0; i < toolResults; i++) {
    input.push({ type: "function_call", call_id: `c${i}`, name: "exec_command", arguments: "{}" });
    input.push({ type: "function_call_output", call_id: `c${i}`, output: "ok" });
  }
  return { model: "gpt-test", stream, tools: [execCommand, { type: "web_search" }], input };
}

function events(text: string) {
  return parseSse(text).map((f) => {
    const data = JSON.parse(f.data);
    assert.equal(data.type, f.event, "event name and data type agree");
    return data;
  });
}

Deno.test("openai-responses: streamed function call, then the next turns", async () => {
  await withServer([script], async (server) => {
    const res = await post(`${server.url}/v1/responses`, request(0), {
      authorization: "Bearer k1",
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const evs = events(await res.text());
    assert.deepEqual(evs.map((e) => e.sequence_number), evs.map((_, i) => i));
    const types = evs.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]);
    assert.deepEqual(types, [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const done = evs.filter((e) => e.type === "response.output_item.done").map((e) => e.item);
    assert.equal(done[0].content[0].text, "First a look.");
    assert.equal(done[1].type, "function_call");
    assert.equal(done[1].name, "exec_command");
    assert.deepEqual(JSON.parse(done[1].arguments), { cmd: "ls" });
    const deltas = evs.filter((e) => e.type === "response.function_call_arguments.delta");
    assert.equal(deltas.map((e) => e.delta).join(""), done[1].arguments);
    const completed = evs.at(-1);
    assert.equal(completed.response.status, "completed");
    const u1 = completed.response.usage;
    assert.equal(u1.total_tokens, u1.input_tokens + u1.output_tokens);

    const second = events(await (await post(`${server.url}/v1/responses`, request(1))).text());
    assert.match(JSON.stringify(second), /echo two/);
    const third = events(await (await post(`${server.url}/v1/responses`, request(2))).text());
    const items = third.at(-1).response.output;
    assert.deepEqual(items.map((i: { type: string }) => i.type), ["message"]);
    assert.equal(items[0].content[0].text, "Finished.");

    const total = [evs, second, third].map((e) => e.at(-1).response.usage);
    assert.deepEqual(server.usage("MARK-R"), {
      inputTokens: total.reduce((s, u) => s + u.input_tokens, 0),
      outputTokens: total.reduce((s, u) => s + u.output_tokens, 0),
    });
    assert.deepEqual(server.requests.map((r) => [r.protocol, r.marker, r.turn, r.status]), [
      ["openai-responses", "MARK-R", 0, 200],
      ["openai-responses", "MARK-R", 1, 200],
      ["openai-responses", "MARK-R", 2, 200],
    ]);
    assert.equal(server.requests[0].headers.authorization, "Bearer k1");
  });
});

Deno.test("openai-responses: non-streaming response object", async () => {
  await withServer([script], async (server) => {
    const res = await post(`${server.url}/v1/responses`, request(0, false));
    const body = await res.json();
    assert.equal(body.object, "response");
    assert.equal(body.model, "gpt-test");
    assert.deepEqual(body.output.map((i: { type: string }) => i.type), [
      "message",
      "function_call",
    ]);
    assert.deepEqual(server.usage("MARK-R"), {
      inputTokens: body.usage.input_tokens,
      outputTokens: body.usage.output_tokens,
    });
  });
});

Deno.test("openai-responses: 401 always, in OpenAI's error shape; 429 once then the turn", async () => {
  const failing = {
    ...script,
    failures: [{ at: 0, status: 401, times: Infinity }, { at: 1, status: 429, times: 1 }],
  };
  await withServer([failing], async (server) => {
    for (let i = 0; i < 2; i++) {
      const r = await post(`${server.url}/v1/responses`, request(0));
      assert.equal(r.status, 401);
      const err = (await r.json()).error;
      assert.equal(err.code, "invalid_api_key");
      assert.match(err.message, /invalid API key/);
    }
    const limited = await post(`${server.url}/v1/responses`, request(1));
    assert.equal(limited.status, 429);
    assert.equal((await limited.json()).error.code, "rate_limit_exceeded");
    const ok = await post(`${server.url}/v1/responses`, request(1));
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.deepEqual(server.requests.map((r) => r.status), [401, 401, 429, 200]);
  });
});

Deno.test("openai-responses: a request without tools or marker gets a generic message and no usage", async () => {
  await withServer([script], async (server) => {
    const noTools = await post(`${server.url}/v1/responses`, { ...request(0, false), tools: [] });
    assert.equal((await noTools.json()).output[0].content[0].text, "OK");
    const noMarker = events(
      await (await post(`${server.url}/v1/responses`, { ...request(0), input: "hello" })).text(),
    );
    assert.equal(noMarker.at(-1).type, "response.completed");
    assert.deepEqual(server.usage("MARK-R"), { inputTokens: 0, outputTokens: 0 });
  });
});
