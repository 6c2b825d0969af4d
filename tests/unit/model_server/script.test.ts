// Script selection, shell tool arguments, turns past the end, https, and
// several scripts served side by side by one server.
import assert from "assert";
import { join } from "node:path";
import { createCa, signCertificate } from "../../../localcluster/pki.ts";
import { findScript, turnAt } from "../../../localcluster/model_server/script.ts";
import { pickShellTool, shellArguments } from "../../../localcluster/model_server/shell_tool.ts";
import { startModelServer, toolResultsOf } from "../../../localcluster/model_server/mod.ts";
import { post, withServer } from "./support.ts";

Deno.test("script: the first user message decides; the longest marker wins; then the whole body", () => {
  const scripts = [
    { marker: "task-1", turns: [] },
    { marker: "task-10", turns: [] },
    { marker: "other", turns: [] },
  ];
  const conv = (userTexts: string[]) => ({ userTexts, toolResults: 0, tools: [] });
  assert.equal(findScript(scripts, conv(["do task-10", "other"]), "")?.marker, "task-10");
  assert.equal(findScript(scripts, conv(["context first", "do task-1 now"]), "")?.marker, "task-1");
  assert.equal(findScript(scripts, conv(["nothing"]), '{"system":"other"}')?.marker, "other");
  assert.equal(findScript(scripts, conv(["nothing"]), "{}"), undefined);
});

Deno.test("tool results of a request as a proxy recorded it: each protocol, behind a path prefix", () => {
  const prefix = "/p/provider";
  assert.equal(
    toolResultsOf(`${prefix}/v1/messages?beta=true`, {
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "t", name: "Bash", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "ok" }] },
      ],
    }),
    1,
  );
  // A compaction of the history offers no tools: its tool results still count.
  assert.equal(
    toolResultsOf(`${prefix}/v1/responses`, {
      input: [
        { role: "user", content: "go" },
        { type: "function_call", call_id: "c", name: "shell", arguments: "{}" },
        { type: "function_call_output", call_id: "c", output: "ok" },
      ],
    }),
    1,
  );
  assert.equal(
    toolResultsOf(`${prefix}/v1beta/models/m:streamGenerateContent?alt=sse`, {
      contents: [
        { role: "user", parts: [{ text: "go" }] },
        { role: "model", parts: [{ functionCall: { name: "run", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { name: "run", response: {} } }] },
      ],
    }),
    1,
  );
  assert.equal(
    toolResultsOf(`${prefix}/v1/chat/completions`, {
      messages: [{ role: "user", content: "go" }],
    }),
    0,
  );
  assert.equal(toolResultsOf(`${prefix}/v1/models`, { messages: [] }), undefined);
  assert.equal(toolResultsOf(`${prefix}/v1/messages`, "(not JSON)"), undefined);
});

Deno.test("script: past its last turn a script answers a final text that says so", () => {
  const t = turnAt({ marker: "m", turns: [{ text: "bye" }] }, 3);
  assert.ok(!("shell" in t));
  assert.match(t.text, /no turn 3/);
});

Deno.test("shell tool: picked by name, arguments shaped by its schema", () => {
  const tools = [
    { name: "read_file" },
    { name: "shell", schema: { type: "object", properties: { command: { type: "array" } } } },
  ];
  const shell = pickShellTool(tools)!;
  assert.equal(shell.name, "shell");
  assert.deepEqual(shellArguments(shell, "ls"), { command: ["bash", "-lc", "ls"] });
  const exec = {
    name: "exec_command",
    schema: {
      type: "object",
      properties: { cmd: { type: "string" }, login: { type: ["boolean", "null"] } },
      required: ["cmd", "login"],
    },
  };
  assert.deepEqual(shellArguments(exec, "ls"), { cmd: "ls", login: false });
  assert.equal(pickShellTool([{ name: "Read" }, { name: "Bash" }])?.name, "Bash");
  assert.equal(pickShellTool([{ name: "Read" }]), undefined);
});

Deno.test("server: a shell turn when the request offers no shell tool becomes a final text", async () => {
  await withServer([{ marker: "M1", turns: [{ shell: "ls" }] }], async (server) => {
    const res = await post(`${server.url}/v1/messages`, {
      model: "x",
      tools: [{ name: "Read", input_schema: {} }],
      messages: [{ role: "user", content: "M1" }],
    });
    const body = await res.json();
    assert.equal(body.stop_reason, "end_turn");
    assert.match(body.content[0].text, /no shell tool/);
  });
});

Deno.test("server: several scripts side by side keep their own turns and usage", async () => {
  const scripts = [
    { marker: "A-1", turns: [{ text: "a" }] },
    { marker: "B-2", turns: [{ text: "bb" }] },
  ];
  await withServer(scripts, async (server) => {
    const ask = (m: string) =>
      post(`${server.url}/v1/chat/completions`, {
        model: "m",
        tools: [{ type: "function", function: { name: "bash", parameters: {} } }],
        messages: [{ role: "user", content: `do ${m}` }],
      }).then((r) => r.json());
    const [a, b] = await Promise.all([ask("A-1"), ask("B-2")]);
    assert.equal(a.choices[0].message.content, "a");
    assert.equal(b.choices[0].message.content, "bb");
    assert.equal(server.usage("A-1").inputTokens, a.usage.prompt_tokens);
    assert.equal(server.usage("B-2").outputTokens, b.usage.completion_tokens);
  });
});

Deno.test("server: https with a certificate given as file paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "model-server-tls-" });
  try {
    const ca = await createCa(dir, "ca", "model-server-test-ca", 1);
    const cert = await signCertificate(
      dir,
      "serving",
      "/CN=model-server",
      "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
      ca,
      1,
    );
    const server = await startModelServer({ hostname: "127.0.0.1", scripts: [], tls: cert });
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "ca.crt"))],
    });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        body: JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] }),
        client,
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).content[0].text, "OK");
    } finally {
      client.close();
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
