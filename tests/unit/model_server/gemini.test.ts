// The Gemini protocol over real HTTP (what Gemini CLI speaks):
// streamGenerateContent?alt=sse chunks, generateContent, functionCall parts,
// turns by functionResponse parts, JSON side requests, countTokens, failures.
import assert from "assert";
import { parseSse, post, withServer } from "./support.ts";

const shellTool = {
  functionDeclarations: [
    {
      name: "read_file",
      parametersJsonSchema: { type: "object", properties: { path: { type: "string" } } },
    },
    {
      name: "run_shell_command",
      parametersJsonSchema: {
        type: "object",
        properties: { command: { type: "string" }, description: { type: "string" } },
        required: ["command"],
      },
    },
  ],
};

const script = {
  marker: "MARK-G",
  turns: [{ text: "Checking.", shell: "ls" }, { shell: "echo two" }, { text: "Complete." }],
};

function request(toolResults: number) {
  const contents: unknown[] = [
    { role: "user", parts: [{ text: "<session_context>setup</session_context>" }] },
    { role: "user", parts: [{ text: "Do MARK-G" }] },
  ];
  for (let i = 0; i < toolResults; i++) {
    contents.push({
      role: "model",
      parts: [{ functionCall: { name: "run_shell_command", args: {} } }],
    });
    contents.push({
      role: "user",
      parts: [{ functionResponse: { name: "run_shell_command", response: { output: "ok" } } }],
    });
  }
  return { contents, tools: [shellTool], generationConfig: { temperature: 1 } };
}

const stream = (server: { url: string }) =>
  `${server.url}/v1beta/models/gemini-test:streamGenerateContent?alt=sse`;

Deno.test("gemini: streamed chunks with a functionCall, then the next turns", async () => {
  await withServer([script], async (server) => {
    const res = await post(stream(server), request(0), { "x-goog-api-key": "g1" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const chunks = parseSse(await res.text()).map((f) => {
      assert.equal(f.event, undefined, "alt=sse has data lines only");
      return JSON.parse(f.data);
    });
    const parts = chunks.flatMap((c) => c.candidates[0].content.parts);
    assert.equal(parts.filter((p) => p.text).map((p) => p.text).join(""), "Checking.");
    const call = parts.find((p) => p.functionCall).functionCall;
    assert.equal(call.name, "run_shell_command");
    assert.deepEqual(call.args, { command: "ls", description: "Runs the scripted command" });
    const last = chunks.at(-1);
    assert.equal(last.candidates[0].finishReason, "STOP");
    assert.ok(
      chunks.slice(0, -1).every((c) => c.usageMetadata === undefined),
      "usage in the last chunk only",
    );
    const u = last.usageMetadata;
    assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount);

    const second = await (await post(stream(server), request(1))).text();
    assert.match(second, /echo two/);
    const third = parseSse(await (await post(stream(server), request(2))).text()).map((f) =>
      JSON.parse(f.data)
    );
    const text = third.flatMap((c) => c.candidates[0].content.parts).map((p) => p.text).join("");
    assert.equal(text, "Complete.");
    assert.deepEqual(server.requests.map((r) => [r.protocol, r.marker, r.turn, r.status]), [
      ["gemini", "MARK-G", 0, 200],
      ["gemini", "MARK-G", 1, 200],
      ["gemini", "MARK-G", 2, 200],
    ]);
    assert.equal(server.requests[0].headers["x-goog-api-key"], "g1");
  });
});

Deno.test("gemini: generateContent answers one object; usage sums what was reported", async () => {
  await withServer([script], async (server) => {
    let input = 0, output = 0;
    for (let i = 0; i < 3; i++) {
      const res = await post(`${server.url}/v1beta/models/gemini-test:generateContent`, request(i));
      const body = await res.json();
      assert.equal(body.modelVersion, "gemini-test");
      input += body.usageMetadata.promptTokenCount;
      output += body.usageMetadata.candidatesTokenCount;
    }
    assert.deepEqual(server.usage("MARK-G"), { inputTokens: input, outputTokens: output });
  });
});

Deno.test("gemini: JSON side requests get an object that fits their schema; countTokens a count", async () => {
  await withServer([script], async (server) => {
    const routing = await post(`${server.url}/v1beta/models/lite:generateContent`, {
      contents: [{ role: "user", parts: [{ text: "Do MARK-G" }] }],
      generationConfig: {
        responseMimeType: "application/json",
        responseJsonSchema: {
          type: "OBJECT",
          properties: {
            complexity_reasoning: { type: "STRING" },
            complexity_score: { type: "INTEGER" },
            model_choice: { type: "STRING", enum: ["flash", "pro"] },
            next_speaker: { type: "STRING", enum: ["model", "user"] },
          },
        },
      },
    });
    const answer = JSON.parse((await routing.json()).candidates[0].content.parts[0].text);
    assert.deepEqual(answer, {
      complexity_reasoning: "OK",
      complexity_score: 1,
      model_choice: "flash",
      next_speaker: "user",
    });
    const count = await post(`${server.url}/v1beta/models/x:countTokens`, request(0));
    assert.ok((await count.json()).totalTokens > 0);
    assert.deepEqual(server.usage("MARK-G"), { inputTokens: 0, outputTokens: 0 });
  });
});

Deno.test("gemini: 401 in Google's error shape; 429 once then the turn", async () => {
  const failing = {
    ...script,
    failures: [{ at: 0, status: 401, times: Infinity }, { at: 1, status: 429, times: 1 }],
  };
  await withServer([failing], async (server) => {
    const r = await post(stream(server), request(0));
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error.status, "UNAUTHENTICATED");
    const limited = await post(stream(server), request(1));
    assert.equal(limited.status, 429);
    assert.equal((await limited.json()).error.status, "RESOURCE_EXHAUSTED");
    const ok = await post(stream(server), request(1));
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });
});
