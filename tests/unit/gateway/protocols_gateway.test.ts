// OpenAI Responses (Codex), chat completions (OpenCode) and Gemini (Gemini
// CLI) through the real gateway to the scripted model server, streamed and not:
// the key in the protocol's header, usage equal to the server's, the
// transcript, and the budget refusal in the protocol's error shape.
import assert from "assert";
import type { ProtocolName } from "../../../gateway/types.ts";
import {
  allTranscriptText,
  chatRequest,
  geminiRequest,
  post,
  PROVIDER_KEY,
  responsesRequest,
  TOKEN,
  withGateway,
} from "./support.ts";

interface Case {
  protocol: ProtocolName;
  path: (stream: boolean) => string;
  request: (marker: string, stream: boolean) => Record<string, unknown>;
  clientAuth: Record<string, string>;
  upstreamKey: [string, string];
  model: string;
  toolLine: RegExp;
  refusal: (message: string) => unknown;
}

const openaiRefusal = (message: string) => ({
  error: {
    message,
    type: "invalid_request_error",
    param: null,
    code: "kubetask_budget_exhausted",
  },
});

const cases: Case[] = [
  {
    protocol: "openai-responses",
    path: () => "/v1/responses",
    request: responsesRequest,
    clientAuth: { authorization: `Bearer ${TOKEN}` },
    upstreamKey: ["authorization", `Bearer ${PROVIDER_KEY}`],
    model: "gpt-test",
    toolLine: /tool call exec_command: \{"cmd":"npm test"\}/,
    refusal: openaiRefusal,
  },
  {
    protocol: "openai-chat-completions",
    path: () => "/v1/chat/completions",
    request: chatRequest,
    clientAuth: { authorization: `Bearer ${TOKEN}` },
    upstreamKey: ["authorization", `Bearer ${PROVIDER_KEY}`],
    model: "gpt-chat",
    toolLine: /tool call bash: \{"command":"npm test"\}/,
    refusal: openaiRefusal,
  },
  {
    protocol: "gemini",
    path: (stream) =>
      stream
        ? "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
        : "/v1beta/models/gemini-test:generateContent",
    request: (marker) => geminiRequest(marker),
    clientAuth: { "x-goog-api-key": TOKEN },
    upstreamKey: ["x-goog-api-key", PROVIDER_KEY],
    model: "gemini-test",
    toolLine: /tool call run_shell_command: \{"command":"npm test"\}/,
    refusal: (message) => ({ error: { code: 400, message, status: "FAILED_PRECONDITION" } }),
  },
];

const script = (marker: string) => ({
  marker,
  turns: [{ text: "Running the tests first.", shell: "npm test" }, { text: "Done." }],
});

for (const c of cases) {
  Deno.test(`${c.protocol} via gateway: streamed and not, key swapped, usage and transcript`, async () => {
    await withGateway({ protocol: c.protocol, scripts: [script("MARK-P")] }, async (h) => {
      for (const stream of [true, false]) {
        const res = await post(
          `${h.base}${c.path(stream)}`,
          c.request("MARK-P", stream),
          c.clientAuth,
        );
        assert.equal(res.status, 200);
        const type = res.headers.get("content-type")!;
        assert.match(type, stream ? /^text\/event-stream/ : /^application\/json/);
        await res.text();
      }
      assert.equal(h.upstream.requests.length, 2);
      for (const seen of h.upstream.requests) {
        assert.equal(seen.headers[c.upstreamKey[0]], c.upstreamKey[1]);
        assert.ok(!JSON.stringify(seen).includes(TOKEN), "the client's token reached upstream");
        assert.equal(seen.marker, "MARK-P");
      }
      await h.gateway.reporter.flush();
      const u = h.writes.at(-1)!.usage;
      const reported = h.upstream.usage("MARK-P");
      assert.ok(reported.outputTokens > 0);
      assert.equal(u.inputTokens, reported.inputTokens);
      assert.equal(u.outputTokens, reported.outputTokens);
      assert.equal(u.requests, 2);
      assert.equal(u.model, c.model);
      assert.ok(u.costNanoUSD > 0, "priced");
      await h.gateway.transcripts.idle();
      const records = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
      assert.equal(records.length, 2);
      assert.equal(records[0].protocol, c.protocol);
      const text = await (await fetch(`${h.gateway.url}/transcripts/team-a/task-1`, {
        headers: { "x-kubetask-user-authorization": "Bearer owner" },
      })).text();
      assert.match(text, c.toolLine);
      assert.match(text, /Running the tests first\./);
      const raw = await allTranscriptText(h.dir);
      assert.ok(!raw.includes(TOKEN) && !raw.includes(PROVIDER_KEY), "a secret in the transcript");
    });
  });

  Deno.test(`${c.protocol} via gateway: a budget refusal in the protocol's error shape, not forwarded`, async () => {
    await withGateway(
      { protocol: c.protocol, scripts: [script("MARK-B")], budget: { tokens: 100 } },
      async (h) => {
        const res = await post(`${h.base}${c.path(true)}`, c.request("MARK-B", true), c.clientAuth);
        assert.equal(res.status, 400);
        assert.deepEqual(
          await res.json(),
          c.refusal("KubeTask budget exhausted: Task task-1 used 0 of 100 tokens"),
        );
        assert.equal(h.upstream.requests.length, 0);
      },
    );
  });
}

Deno.test("chat completions via gateway: a stream is asked to report its usage", async () => {
  await withGateway(
    { protocol: "openai-chat-completions", scripts: [script("MARK-U")] },
    async (h) => {
      await (await post(`${h.base}/v1/chat/completions`, chatRequest("MARK-U", true), {
        authorization: `Bearer ${TOKEN}`,
      })).text();
      const body = h.upstream.requests[0].body as { stream_options?: { include_usage?: boolean } };
      assert.equal(body.stream_options?.include_usage, true);
    },
  );
});

Deno.test("gemini via gateway: a token in the key query parameter is taken and not forwarded", async () => {
  await withGateway({ protocol: "gemini", scripts: [script("MARK-Q")] }, async (h) => {
    const res = await post(
      `${h.base}/v1beta/models/gemini-test:streamGenerateContent?key=${TOKEN}&alt=sse`,
      geminiRequest("MARK-Q"),
    );
    assert.equal(res.status, 200);
    await res.text();
    const seen = h.upstream.requests[0];
    assert.equal(seen.path, "/v1beta/models/gemini-test:streamGenerateContent?alt=sse");
    assert.equal(seen.headers["x-goog-api-key"], PROVIDER_KEY);
  });
});
