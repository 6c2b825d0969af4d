// Claude Code's protocol through the real gateway to the scripted model server:
// the key swap, live metering and cost, transcripts without secrets, budget
// refusal and stream cut, refusals never forwarded, errors passed through,
// client abort, and a restart that counts nothing twice.
import assert from "assert";
import { SseParser } from "../../../gateway/sse.ts";
import { renderTranscriptText } from "../../../gateway/transcript_render.ts";
import {
  allTranscriptText,
  anthropicRequest,
  post,
  PROVIDER_KEY,
  TOKEN,
  withGateway,
} from "./support.ts";

const script = (marker: string, failures?: { at: number; status: number; times: number }[]) => ({
  marker,
  turns: [{ text: "Running the tests now, then fixing what fails.", shell: "npm test" }, {
    text: "Done.",
  }],
  failures,
});

// claude-test: $3 / $15 per MTok, in nano-dollars per token: 3000 and 15000.
const cost = (input: number, output: number) =>
  Math.ceil((input * 3000e6 + output * 15000e6) / 1e6);

Deno.test("anthropic via gateway: a stream passes unchanged, the upstream sees the key, never the token", async () => {
  await withGateway({ scripts: [script("MARK-1")] }, async (h) => {
    const res = await post(`${h.base}/v1/messages?beta=true`, anthropicRequest("MARK-1", true), {
      "x-api-key": TOKEN,
      "anthropic-version": "2023-06-01",
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const body = await res.text();
    // The same bytes the model server sends when asked directly.
    const direct = await post(
      `${h.upstream.url}/v1/messages?beta=true`,
      anthropicRequest("MARK-1", true),
      { "x-api-key": PROVIDER_KEY },
    );
    assert.equal(body, await direct.text());
    const seen = h.upstream.requests[0];
    assert.equal(seen.path, "/v1/messages?beta=true");
    assert.equal(seen.headers["x-api-key"], PROVIDER_KEY);
    assert.equal(seen.headers["anthropic-version"], "2023-06-01");
    assert.ok(!JSON.stringify(seen.headers).includes(TOKEN), "the client's token reached upstream");
    assert.equal(seen.headers["authorization"], undefined);
  });
});

Deno.test("anthropic via gateway: usage and cost equal what the model server reported, streamed and not", async () => {
  await withGateway({ scripts: [script("MARK-2")] }, async (h) => {
    for (const stream of [true, false]) {
      const res = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-2", stream), {
        "x-api-key": TOKEN,
      });
      assert.equal(res.status, 200);
      await res.text();
    }
    await h.gateway.reporter.flush();
    const reported = h.upstream.usage("MARK-2");
    assert.ok(reported.inputTokens > 0 && reported.outputTokens > 0);
    assert.equal(h.writes.length, 1, "one batched write for both requests");
    const w = h.writes[0];
    assert.deepEqual([w.namespace, w.task, w.taskUid], ["team-a", "task-1", h.identity.taskUid]);
    assert.equal(w.usage.inputTokens, reported.inputTokens);
    assert.equal(w.usage.outputTokens, reported.outputTokens);
    assert.equal(w.usage.requests, 2);
    assert.equal(w.usage.model, "claude-test");
    // Each request's cost is rounded up on its own.
    const perRequest = h.upstream.requests.map((r) => r.body as { stream: boolean });
    assert.equal(perRequest.length, 2);
    assert.ok(
      Math.abs(w.usage.costNanoUSD - cost(reported.inputTokens, reported.outputTokens)) <= 2,
    );
    assert.equal(
      h.gateway.metrics.tokensOf("team-a", "coder", "claude-test", "output"),
      reported.outputTokens,
    );
    assert.match(h.gateway.metrics.render(), /kubetask_gateway_cost_usd_total\{namespace="team-a"/);
  });
});

Deno.test("anthropic via gateway: transcripts are readable and hold neither key nor token", async () => {
  await withGateway({ scripts: [script("MARK-3")] }, async (h) => {
    for (const stream of [true, false]) {
      await (await post(`${h.base}/v1/messages?key=${TOKEN}`, anthropicRequest("MARK-3", stream)))
        .text();
    }
    await h.gateway.transcripts.idle();
    const records = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(records.length, 2);
    assert.equal(records[0].path, "/p/prov/v1/messages", "the key query parameter is not kept");
    assert.equal(records[0].status, 200);
    assert.ok(records[0].upstreamMs! <= records[0].durationMs, "timings recorded");
    const streamed = records[0].response as { stream: boolean; text: string; events: unknown[] };
    assert.equal(streamed.stream, true);
    assert.equal(streamed.text, "Running the tests now, then fixing what fails.");
    assert.ok(streamed.events.length > 5);
    assert.equal((records[1].response as { type: string }).type, "message");
    assert.ok(records[0].usage!.inputTokens > 0);
    const raw = await allTranscriptText(h.dir);
    assert.ok(raw.includes("MARK-3"));
    assert.ok(!raw.includes(TOKEN), "the token is in the transcript");
    assert.ok(!raw.includes(PROVIDER_KEY), "the key is in the transcript");
    // Through the server, for the Task's owner only.
    const url = `${h.gateway.url}/transcripts/team-a/task-1`;
    const owner = { "x-kubetask-user-authorization": "Bearer owner" };
    const text = await (await fetch(url, { headers: owner })).text();
    assert.match(text, /^#1 .* claude-test {2}HTTP 200/);
    assert.match(text, /user:\n {2}Please do MARK-3/);
    assert.match(text, /tool call Bash: \{"command":"npm test"\}/);
    const json = await (await fetch(`${url}?format=json`, { headers: owner })).json();
    assert.equal(json.length, 2);
    const other = await fetch(url, { headers: { "x-kubetask-user-authorization": "Bearer x" } });
    assert.equal(other.status, 403);
    await other.body?.cancel();
    const missing = await fetch(`${h.gateway.url}/transcripts/team-a/nope`, { headers: owner });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});

Deno.test("anthropic via gateway: a request over the budget is refused before forwarding", async () => {
  await withGateway({ scripts: [script("MARK-4")], budget: { costUSD: "0.01" } }, async (h) => {
    // Worst case: 1,000,000 output tokens at $15/MTok = $15 > $0.01.
    const res = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-4", true, 1_000_000), {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual(body, {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "KubeTask budget exhausted: Task task-1 used $0.00 of $0.01",
      },
    });
    assert.equal(h.upstream.requests.length, 0, "the upstream saw a request");
    // The mark is written at once, without waiting for the interval.
    await h.gateway.reporter.flush();
    assert.equal(h.writes.at(-1)?.budgetExceeded, body.error.message);
    // Once marked, nothing more goes through.
    const small = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-4", false, 1), {
      "x-api-key": TOKEN,
    });
    assert.equal(small.status, 400);
    await small.body?.cancel();
    assert.equal(h.upstream.requests.length, 0);
    assert.equal(h.gateway.metrics.refusals("budget"), 2);
  });
});

Deno.test("anthropic via gateway: a stream that crosses the cap is cut after the crossing event", async () => {
  // The worst case fits (a small body, max_tokens 1), the actual usage does not: the model
  // answers far more than max_tokens, and message_delta's output_tokens crosses the budget.
  const long = { marker: "MARK-5", turns: [{ text: "A long answer. ".repeat(120) }] };
  await withGateway({ scripts: [long], eventDelayMs: 5, budget: { tokens: 400 } }, async (h) => {
    const req = anthropicRequest("MARK-5", true, 1);
    const res = await post(`${h.base}/v1/messages`, { ...req, tools: [{ name: "Bash" }] }, {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 200);
    const parser = new SseParser();
    const events = [];
    for await (const chunk of res.body!) events.push(...parser.feed(chunk));
    const reported = h.upstream.usage("MARK-5");
    assert.ok(reported.inputTokens + reported.outputTokens > 400, "test premise: over budget");
    assert.equal(events.at(-1)?.event, "message_delta", "the crossing event went out");
    assert.ok(!events.some((e) => e.event === "message_stop"), "events after the cut went out");
    await h.gateway.reporter.flush();
    const last = h.writes.at(-1)!;
    assert.equal(
      last.budgetExceeded,
      `KubeTask budget exhausted: Task task-1 used ${
        reported.inputTokens + reported.outputTokens
      } of 400 tokens`,
    );
    assert.equal(last.usage.outputTokens, reported.outputTokens);
    await h.gateway.transcripts.idle();
    const [record] = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(record.incomplete, true);
    // The next request is refused with the same message, not forwarded.
    const next = await post(`${h.base}/v1/messages`, req, { "x-api-key": TOKEN });
    assert.equal(next.status, 400);
    assert.equal((await next.json()).error.message, last.budgetExceeded);
    assert.equal(h.upstream.requests.length, 1);
  });
});

Deno.test("anthropic via gateway: no token, or a token Identify refuses, is 401 and never forwarded", async () => {
  await withGateway({ scripts: [script("MARK-6")] }, async (h) => {
    const none = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-6", true));
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.type, "authentication_error");
    const wrong = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-6", true), {
      "authorization": "Bearer stolen-token-of-a-finished-task",
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const otherProvider = await post(
      `${h.gateway.url}/p/other/v1/messages`,
      anthropicRequest("MARK-6", true),
      { "x-api-key": TOKEN },
    );
    assert.equal(otherProvider.status, 401);
    await otherProvider.body?.cancel();
    assert.equal(h.upstream.requests.length, 0);
    assert.equal(h.gateway.metrics.refusals("unauthenticated"), 3);
    assert.ok(!h.logs.join("\n").includes("stolen-token"), "a token reached the log");
  });
  await withGateway({
    scripts: [],
    refuse: { ok: false, status: 403, reason: "pod is no Task's" },
  }, async (h) => {
    const res = await post(`${h.base}/v1/messages`, anthropicRequest("M", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 403);
    assert.match((await res.json()).error.message, /pod is no Task's/);
    assert.equal(h.upstream.requests.length, 0);
  });
});

Deno.test("anthropic via gateway: 429 with Retry-After and 5xx pass through unchanged, at no cost", async () => {
  const failures = [{ at: 0, status: 429, times: 1 }, { at: 0, status: 529, times: 1 }];
  await withGateway({ scripts: [script("MARK-7", failures)] }, async (h) => {
    const first = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-7", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("retry-after"), "1");
    assert.equal(first.headers.get("x-should-retry"), "true");
    assert.equal(first.headers.get("request-id"), "req_model_server");
    assert.equal((await first.json()).error.type, "rate_limit_error");
    const second = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-7", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(second.status, 529);
    assert.equal((await second.json()).error.type, "overloaded_error");
    const third = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-7", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(third.status, 200);
    await third.text();
    await h.gateway.reporter.flush();
    const u = h.writes.at(-1)!.usage;
    assert.equal(u.requests, 3);
    assert.equal(u.inputTokens, h.upstream.usage("MARK-7").inputTokens);
    assert.equal(u.costNanoUSD, cost(u.inputTokens, u.outputTokens));
  });
});

Deno.test("anthropic via gateway: a client that goes away aborts the upstream stream; what it saw is counted", async () => {
  await withGateway({ scripts: [script("MARK-8")], eventDelayMs: 50 }, async (h) => {
    const abort = new AbortController();
    const res = await fetch(`${h.base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TOKEN },
      body: JSON.stringify(anthropicRequest("MARK-8", true)),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // message_start arrived
    abort.abort();
    await reader.read().catch(() => {});
    // The upstream's stream is cancelled once the gateway notices.
    for (let i = 0; i < 100 && !h.upstream.requests[0].aborted; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(h.upstream.requests[0].aborted, true);
    await h.gateway.reporter.flush();
    const u = h.writes.at(-1)!.usage;
    assert.equal(u.inputTokens, h.upstream.usage("MARK-8").inputTokens, "message_start counted");
    await h.gateway.transcripts.idle();
    const [record] = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(record.incomplete, true);
  });
});

Deno.test("anthropic via gateway: a restarted gateway starts from usageSoFar and counts nothing twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gateway-restart-" });
  try {
    const s = script("MARK-9");
    let written;
    await withGateway({ scripts: [s], dir }, async (h) => {
      await (await post(`${h.base}/v1/messages`, anthropicRequest("MARK-9", true), {
        "x-api-key": TOKEN,
      })).text();
      await h.gateway.reporter.flush();
      written = h.writes.at(-1)!.usage;
    });
    assert.ok(written);
    const first = written as { inputTokens: number; outputTokens: number; requests: number };
    await withGateway({ scripts: [s], dir, usageSoFar: written }, async (h) => {
      await (await post(`${h.base}/v1/messages`, anthropicRequest("MARK-9", false), {
        "x-api-key": TOKEN,
      })).text();
      await h.gateway.reporter.flush();
      const u = h.writes.at(-1)!.usage;
      const second = h.upstream.usage("MARK-9");
      assert.equal(u.inputTokens, first.inputTokens + second.inputTokens);
      assert.equal(u.outputTokens, first.outputTokens + second.outputTokens);
      assert.equal(u.requests, 2);
      // Both gateways' exchanges are in the one transcript file.
      await h.gateway.transcripts.idle();
      assert.equal((await h.gateway.transcripts.read("team-a", h.identity.taskUid)).length, 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anthropic via gateway: an unpriced model costs 0 and is logged once", async () => {
  await withGateway({ scripts: [script("MARK-10")] }, async (h) => {
    for (let i = 0; i < 2; i++) {
      const req = { ...anthropicRequest("MARK-10", false), model: "claude-unpriced" };
      await (await post(`${h.base}/v1/messages`, req, { "x-api-key": TOKEN })).text();
    }
    await h.gateway.reporter.flush();
    const u = h.writes.at(-1)!.usage;
    assert.equal(u.requests, 2);
    assert.ok(u.inputTokens > 0);
    assert.equal(u.costNanoUSD, 0);
    assert.equal(h.logs.filter((l) => l.includes("model has no price")).length, 1);
  });
});

Deno.test("anthropic via gateway: an unreachable provider is 502 in the protocol's shape, at no cost", async () => {
  await withGateway({ scripts: [] }, async (h) => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    h.identity.provider.upstreamURL = `http://127.0.0.1:${port}`;
    const res = await post(`${h.base}/v1/messages`, anthropicRequest("M", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 502);
    assert.equal((await res.json()).type, "error");
    assert.equal(h.gateway.metrics.refusals("upstream_unreachable"), 1);
    await h.gateway.reporter.flush();
    assert.equal(h.writes.at(-1)?.usage.costNanoUSD ?? 0, 0);
  });
});

Deno.test("anthropic via gateway: token counting and GETs reserve no output, so they pass at the cap", async () => {
  // A budget below the default worst case (4096 output tokens) still lets free endpoints through.
  await withGateway({ scripts: [], budget: { tokens: 2000 } }, async (h) => {
    const count = await post(`${h.base}/v1/messages/count_tokens`, {
      model: "claude-test",
      messages: [{ role: "user", content: "hi" }],
    }, { "x-api-key": TOKEN });
    assert.equal(count.status, 200);
    assert.ok((await count.json()).input_tokens > 0);
    const models = await fetch(`${h.base}/v1/models`, { headers: { "x-api-key": TOKEN } });
    assert.equal(models.status, 200);
    await models.body?.cancel();
    assert.equal(h.upstream.requests.length, 2);
  });
});

Deno.test("anthropic via gateway: a request for another provider than the Task's is refused (attack replay)", async () => {
  await withGateway({ scripts: [], ignoreProvider: true }, async (h) => {
    const res = await post(`${h.gateway.url}/p/other/v1/messages`, anthropicRequest("M", true), {
      "x-api-key": TOKEN,
    });
    assert.equal(res.status, 403);
    assert.match((await res.json()).error.message, /not this Task's provider/);
    assert.equal(h.upstream.requests.length, 0);
  });
});

Deno.test("anthropic via gateway: a client gone before the upstream answered aborts the upstream request", async () => {
  // An upstream that never answers and notes when its request is abandoned.
  const abandoned = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  const silent = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    request.signal.addEventListener("abort", () => abandoned.resolve());
    await request.arrayBuffer();
    arrived.resolve();
    await abandoned.promise;
    return new Response(null, { status: 500 }); // no one reads it; lets shutdown() finish
  });
  await withGateway({ scripts: [] }, async (h) => {
    h.identity.provider.upstreamURL = `http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
    const abort = new AbortController();
    const pending = fetch(`${h.base}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": TOKEN },
      body: JSON.stringify(anthropicRequest("M", false)),
      signal: abort.signal,
    }).catch(() => "aborted");
    await arrived.promise;
    abort.abort();
    assert.equal(await pending, "aborted");
    // A generous bound so that a gateway which kept waiting fails the test instead of hanging it.
    let bound: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      abandoned.promise.then(() => "abandoned"),
      new Promise((r) => bound = setTimeout(() => r("still waiting upstream"), 10_000)),
    ]);
    clearTimeout(bound);
    assert.equal(outcome, "abandoned");
    await h.gateway.transcripts.idle();
    for (let i = 0; i < 50; i++) {
      if ((await h.gateway.transcripts.read("team-a", h.identity.taskUid)).length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const [record] = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(record.incomplete, true);
  });
  abandoned.resolve(); // (if the test failed) lets the silent handler end
  await silent.shutdown();
});

Deno.test("anthropic via gateway: an exchange in flight is in the transcript as unfinished until it ends (a gateway killed then leaves that)", async () => {
  await withGateway({ scripts: [script("MARK-U")], eventDelayMs: 100 }, async (h) => {
    const res = await post(`${h.base}/v1/messages`, anthropicRequest("MARK-U", true), {
      "x-api-key": TOKEN,
    });
    const reader = res.body!.getReader();
    await reader.read(); // message_start: the stream is under way
    await h.gateway.transcripts.idle();
    // What a SIGKILL now would leave on disk: the begun note alone.
    const during = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(during.length, 1);
    assert.equal(during[0].incomplete, true);
    assert.match(during[0].unfinished!, /no end recorded/);
    assert.equal(during[0].status, 0);
    assert.equal(during[0].request, undefined, "bodies only in the record of the end");
    assert.match(renderTranscriptText(during), /INCOMPLETE\nunfinished: no end recorded/);
    while (!(await reader.read()).done) { /* the rest of the stream */ }
    await h.gateway.transcripts.idle();
    const after = await h.gateway.transcripts.read("team-a", h.identity.taskUid);
    assert.equal(after.length, 1, "the note gives way to the exchange's record");
    assert.equal(after[0].status, 200);
    assert.equal(after[0].incomplete, undefined);
    assert.equal(after[0].unfinished, undefined);
    assert.equal(after[0].exchange, during[0].exchange);
    assert.deepEqual(after[0].usage?.inputTokens, h.upstream.usage("MARK-U").inputTokens);
  });
});
