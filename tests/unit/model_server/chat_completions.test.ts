// OpenAI-compatible chat completions over real HTTP (what OpenCode speaks):
// chunk framing with tool_calls deltas, finish_reason, usage chunk, [DONE];
// turns by role "tool" messages; title requests without tools; failures.
import assert from "assert";
import { parseSse, post, withServer } from "./support.ts";

const bashTool = {
  type: "function",
  function: {
    name: "bash",
    parameters: {
      type: "object",
      properties: {
        command: { type: "string" },
        description: { type: "string" },
        timeout: { type: "number" },
      },
      required: ["command", "description"],
    },
  },
};

const script = {
  marker: "MARK-C",
  turns: [{ text: "Let me see.", shell: "ls" }, { shell: "echo two" }, { text: "Finished." }],
};

function request(toolResults: number, stream = true) {
  const messages: unknown[] = [
    { role: "system", content: "you are a helper" },
    { role: "user", content: [{ type: "text", text: "Do MARK-C" }] },
  ];
  for (let i = 0; i < toolResults; i++) {
    messages.push({
      role: "assistant",
      content: "",
      tool_calls: [{ id: `c${i}`, type: "function", function: { name: "bash", arguments: "{}" } }],
    });
    messages.push({ role: "tool", tool_call_id: `c${i}`, content: "ok" });
  }
  return {
    model: "m1",
    stream,
    stream_options: { include_usage: true },
    tools: [bashTool],
    messages,
  };
}

const url = (server: { url: string }) => `${server.url}/v1/chat/completions`;

Deno.test("chat-completions: streamed tool_calls, usage chunk and [DONE], then the next turns", async () => {
  await withServer([script], async (server) => {
    const res = await post(url(server), request(0), { authorization: "Bearer k2" });
    assert.equal(res.status, 200);
    const frames = parseSse(await res.text());
    assert.equal(frames.at(-1)!.data, "[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
    const deltas = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta);
    assert.equal(deltas[0].role, "assistant");
    assert.equal(deltas.map((d) => d.content ?? "").join(""), "Let me see.");
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    assert.equal(calls[0].id.startsWith("call_"), true);
    assert.equal(calls[0].function.name, "bash");
    const args = JSON.parse(calls.map((c) => c.function.arguments).join(""));
    assert.deepEqual(args, { command: "ls", description: "Runs the scripted command" });
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason).map((c) =>
      c.choices[0].finish_reason
    );
    assert.deepEqual(finish, ["tool_calls"]);
    const usage = chunks.at(-1).usage;
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

    assert.match(await (await post(url(server), request(1))).text(), /echo two/);
    const last = parseSse(await (await post(url(server), request(2))).text());
    const lastChunks = last.slice(0, -1).map((f) => JSON.parse(f.data));
    assert.equal(lastChunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "Finished.");
    assert.equal(lastChunks.at(-2).choices[0].finish_reason, "stop");
    assert.deepEqual(server.requests.map((r) => [r.protocol, r.marker, r.turn, r.status]), [
      ["chat-completions", "MARK-C", 0, 200],
      ["chat-completions", "MARK-C", 1, 200],
      ["chat-completions", "MARK-C", 2, 200],
    ]);
    assert.equal(server.requests[0].headers.authorization, "Bearer k2");
  });
});

Deno.test("chat-completions: non-streaming, usage adds up; a title request without tools is generic", async () => {
  await withServer([script], async (server) => {
    const title = await post(url(server), {
      model: "m1",
      messages: [{ role: "system", content: "Generate a title" }, {
        role: "user",
        content: "Do MARK-C",
      }],
    });
    assert.equal((await title.json()).choices[0].message.content, "OK");
    let input = 0, output = 0;
    for (let i = 0; i < 3; i++) {
      const body = await (await post(url(server), request(i, false))).json();
      assert.equal(body.object, "chat.completion");
      assert.equal(body.choices[0].finish_reason, i < 2 ? "tool_calls" : "stop");
      input += body.usage.prompt_tokens;
      output += body.usage.completion_tokens;
    }
    assert.deepEqual(server.usage("MARK-C"), { inputTokens: input, outputTokens: output });
    assert.deepEqual(server.requests.map((r) => r.turn), [undefined, 0, 1, 2]);
  });
});

Deno.test("chat-completions: 401 then 429 once, in OpenAI's error shape", async () => {
  const failing = {
    ...script,
    failures: [{ at: 0, status: 401, times: 2, message: "no such key" }, {
      at: 1,
      status: 429,
      times: 1,
    }],
  };
  await withServer([failing], async (server) => {
    for (let i = 0; i < 2; i++) {
      const r = await post(url(server), request(0));
      assert.equal(r.status, 401);
      assert.deepEqual((await r.json()).error, {
        message: "no such key",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      });
    }
    const ok = await post(url(server), request(0));
    assert.equal(ok.status, 200, "times: 2 means two failures, then the turn");
    await ok.body?.cancel();
    const limited = await post(url(server), request(1));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "1");
    await limited.body?.cancel();
    assert.deepEqual(server.requests.map((r) => r.status), [401, 401, 200, 429]);
  });
});
