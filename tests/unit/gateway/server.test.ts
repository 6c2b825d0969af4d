// The gateway server's routes: probes, metrics (authorized when configured),
// 404 for the rest, HTTPS, provider names and paths that cannot escape the
// provider's upstream, a shutdown that aborts streams still running.
import assert from "assert";
import { selfSignedCertificate } from "../../../controllers/runtime/self_signed.ts";
import { startModelServer } from "../../../localcluster/model_server/mod.ts";
import { startGateway } from "../../../gateway/server.ts";
import { anthropicRequest, post, TOKEN, withGateway } from "./support.ts";

const noop = () => Promise.resolve(true);

async function bare(ready: () => boolean, tls?: { cert: string; key: string }) {
  const dir = await Deno.makeTempDir({ prefix: "gateway-server-" });
  const gateway = await startGateway({
    hostname: "127.0.0.1",
    tls,
    identify: () => Promise.resolve({ ok: false, status: 401, reason: "no" }),
    usageWriter: { write: () => Promise.resolve() },
    authorizeReader: () => Promise.resolve({ ok: false, status: 401, reason: "who are you" }),
    resolveTask: () => Promise.resolve(undefined),
    taskExists: noop,
    ready,
    authorizeMetrics: (h) => Promise.resolve(h === "Bearer scraper" ? 200 : h ? 403 : 401),
    transcriptDir: dir,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function status(url: string, init: RequestInit & { client?: Deno.HttpClient } = {}) {
  const res = await fetch(url, init);
  await res.body?.cancel();
  return res.status;
}

Deno.test("gateway server: probes, metrics for authorized scrapers, 404 elsewhere", async () => {
  let ready = false;
  const { gateway, close } = await bare(() => ready);
  try {
    const u = gateway.url;
    assert.equal(await status(`${u}/healthz`), 200);
    assert.equal(await status(`${u}/readyz`), 503);
    ready = true;
    assert.equal(await status(`${u}/readyz`), 200);
    assert.equal(await status(`${u}/metrics`), 401);
    assert.equal(await status(`${u}/metrics`, { headers: { authorization: "Bearer x" } }), 403);
    const res = await fetch(`${u}/metrics`, { headers: { authorization: "Bearer scraper" } });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /kubetask_gateway_refused_total\{reason="budget"\} 0/);
    assert.match(text, /process_resident_memory_bytes \d+/);
    assert.equal(await status(`${u}/`), 404);
    assert.equal(await status(`${u}/transcripts/team-a`), 404);
    assert.equal(await status(`${u}/transcripts/team-a/t`), 401, "the reader check answers");
    assert.equal(await status(`${u}/transcripts/Team_A/t`), 400);
    assert.equal(await status(`${u}/p/Bad_Name/v1/messages`, { method: "POST" }), 404);
  } finally {
    await close();
  }
});

Deno.test("gateway server: serves HTTPS with the given certificate", async () => {
  const tls = await selfSignedCertificate("kubetask-gateway", ["127.0.0.1"]);
  const { gateway, close } = await bare(() => true, tls);
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  try {
    assert.match(gateway.url, /^https:\/\//);
    assert.equal(await status(`${gateway.url}/healthz`, { client }), 200);
  } finally {
    client.close();
    await close();
  }
});

Deno.test("gateway server: dot segments cannot leave the provider's upstream path (attack replay)", async () => {
  // The provider's upstream is <model server>/api; a request must not reach /admin beside it.
  await withGateway({ scripts: [] }, async (h) => {
    h.identity.provider.upstreamURL = `${h.upstream.url}/api`;
    for (
      const path of [
        "/p/prov/../../admin",
        "/p/prov/%2e%2e/admin",
        "/p/prov/v1/%2E%2E/%2E%2E/admin",
      ]
    ) {
      const res = await fetch(`${h.gateway.url}${path}`, {
        method: "POST",
        headers: { "x-api-key": TOKEN },
        body: "{}",
      });
      await res.body?.cancel();
    }
    // A control: a plain path does reach the upstream, below its path.
    await (await post(`${h.base}/v1/messages`, {}, { "x-api-key": TOKEN })).body?.cancel();
    assert.deepEqual(h.upstream.requests.map((r) => r.path).at(-1), "/api/v1/messages");
    for (const r of h.upstream.requests) {
      assert.ok(r.path.startsWith("/api/"), `reached ${r.path}`);
    }
  });
});

Deno.test("gateway server: close aborts streams still running after the grace period, marked incomplete", async () => {
  const upstream = await startModelServer({
    hostname: "127.0.0.1",
    scripts: [{ marker: "MARK-S", turns: [{ text: "slow ".repeat(200) }] }],
    eventDelayMs: 100,
  });
  const dir = await Deno.makeTempDir({ prefix: "gateway-shutdown-" });
  const identity = {
    namespace: "team-a",
    task: "t",
    taskUid: "uid-s",
    agent: "a",
    pod: "p",
    provider: {
      name: "prov",
      protocol: "anthropic-messages" as const,
      upstreamURL: upstream.url,
      key: "k",
      prices: [],
      defaultMaxOutputTokens: 10,
    },
  };
  const writes: number[] = [];
  const gateway = await startGateway({
    hostname: "127.0.0.1",
    identify: () => Promise.resolve({ ok: true, identity }),
    usageWriter: {
      write: (_n, _t, _u, usage) => {
        writes.push(usage.inputTokens);
        return Promise.resolve();
      },
    },
    authorizeReader: () => Promise.resolve({ ok: true }),
    resolveTask: () => Promise.resolve({ uid: "uid-s" }),
    taskExists: noop,
    ready: () => true,
    transcriptDir: dir,
    shutdownGraceMs: 200,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  try {
    const res = await post(
      `${gateway.url}/p/prov/v1/messages`,
      { ...anthropicRequest("MARK-S", true), tools: [{ name: "Bash" }] },
      { "x-api-key": "any" },
    );
    const reader = res.body!.getReader();
    await reader.read();
    const closing = gateway.close();
    while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
    await closing;
    assert.equal(upstream.requests[0].aborted, true);
    assert.deepEqual(writes, [upstream.usage("MARK-S").inputTokens], "flushed on close");
    const [record] = await gateway.transcripts.read("team-a", "uid-s");
    assert.equal(record.incomplete, true);
  } finally {
    await upstream.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway server: the sweep forgets deleted Tasks (ledger and transcript) once their usage is written", async () => {
  let exists = true;
  const taskExists = () => Promise.resolve(exists);
  await withGateway(
    { scripts: [{ marker: "MARK-W", turns: [{ text: "ok" }] }], taskExists },
    async (h) => {
      await (await post(`${h.base}/v1/messages`, anthropicRequest("MARK-W", false), {
        "x-api-key": TOKEN,
      })).text();
      await h.gateway.transcripts.idle();
      await h.gateway.sweep();
      assert.ok(h.gateway.ledger.get(h.identity.taskUid), "a live Task is kept");
      exists = false;
      await h.gateway.sweep();
      assert.ok(h.gateway.ledger.get(h.identity.taskUid), "kept until its usage is written");
      await h.gateway.reporter.flush();
      assert.equal(h.writes.length, 1);
      await h.gateway.sweep();
      assert.equal(h.gateway.ledger.get(h.identity.taskUid), undefined);
      assert.deepEqual(await h.gateway.transcripts.read("team-a", h.identity.taskUid), []);
    },
  );
});
