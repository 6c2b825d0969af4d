// The model gateway's added cost: one request, one streamed answer (divide the
// difference by the number of events for the cost per chunk) and 100
// concurrent streams, each through the gateway against directly to the
// scripted model server on loopback (the baseline). Both servers run in this
// process, so the figures include the client's and the upstream's work too;
// the difference between the pair is the gateway's.
import { startModelServer } from "../../localcluster/model_server/mod.ts";
import { startGateway } from "../../gateway/server.ts";
import type { TaskIdentity } from "../../gateway/types.ts";

const KEY = "sk-bench";
const TEXT = "A streamed answer of many small deltas. ".repeat(60); // ~100 text deltas
const upstream = await startModelServer({
  hostname: "127.0.0.1",
  scripts: [{ marker: "BENCH", turns: [{ text: TEXT }] }],
});
const dir = Deno.makeTempDirSync({ prefix: "gateway-bench-" });
const identity: TaskIdentity = {
  namespace: "bench",
  task: "t",
  taskUid: "uid-bench",
  agent: "a",
  pod: "p",
  provider: {
    name: "prov",
    protocol: "anthropic-messages",
    upstreamURL: upstream.url,
    key: KEY,
    prices: [{ model: "claude-test", inputPerMTok: "3", outputPerMTok: "15" }],
    defaultMaxOutputTokens: 4096,
  },
};
const gateway = await startGateway({
  hostname: "127.0.0.1",
  identify: () => Promise.resolve({ ok: true, identity }),
  usageWriter: { write: () => Promise.resolve() },
  authorizeReader: () => Promise.resolve({ ok: true }),
  resolveTask: () => Promise.resolve(undefined),
  taskExists: () => Promise.resolve(true),
  ready: () => true,
  transcriptDir: dir,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});

// A bare pass-through proxy (fetch, hand the body on): what any Deno proxy pays per hop, so the
// gateway's own work (identity, budget, metering, transcript) is the rest.
const bare = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const up = await fetch(upstream.url + new URL(request.url).pathname, {
    method: "POST",
    body: await request.arrayBuffer(),
    headers: { "content-type": "application/json", "x-api-key": KEY },
  });
  return new Response(up.body, { status: up.status, headers: up.headers });
});
const bareURL = `http://127.0.0.1:${(bare.addr as Deno.NetAddr).port}`;

const body = (stream: boolean) =>
  JSON.stringify({
    model: "claude-test",
    max_tokens: 1024,
    stream,
    tools: [{ name: "Bash" }],
    messages: [{ role: "user", content: "BENCH" }],
  });
const STREAM = body(true), JSON_BODY = body(false);

async function call(base: string, payload: string, headers: Record<string, string>) {
  // The model server records every request; keep the test double's memory out of the RSS figure.
  if (upstream.requests.length > 1000) upstream.requests.length = 0;
  const res = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
}

const direct = (payload: string) => call(upstream.url, payload, { "x-api-key": KEY });
const passThrough = (payload: string) => call(bareURL, payload, {});
const via = (payload: string) => call(`${gateway.url}/p/prov`, payload, { "x-api-key": "tok" });

// How many events one streamed answer has, for the per-chunk figure.
const events = (await (await fetch(`${upstream.url}/v1/messages`, {
  method: "POST",
  body: STREAM,
  headers: { "x-api-key": KEY },
})).text()).split("\n\n").length - 1;

// Deno.bench awaits only functions declared async (a plain one returning the promise would
// leave every call in flight: the run then fails on too many open files).
Deno.bench("one JSON request: direct", { group: "request", baseline: true }, async () => {
  await direct(JSON_BODY);
});
Deno.bench("one JSON request: bare pass-through proxy", { group: "request" }, async () => {
  await passThrough(JSON_BODY);
});
Deno.bench("one JSON request: via gateway", { group: "request" }, async () => {
  await via(JSON_BODY);
});

Deno.bench(
  `one stream of ${events} events: direct`,
  { group: "stream", baseline: true },
  async () => {
    await direct(STREAM);
  },
);
Deno.bench(
  `one stream of ${events} events: bare pass-through proxy`,
  { group: "stream" },
  async () => {
    await passThrough(STREAM);
  },
);
Deno.bench(`one stream of ${events} events: via gateway`, { group: "stream" }, async () => {
  await via(STREAM);
});

const concurrent = (f: () => Promise<void>) => Promise.all(Array.from({ length: 100 }, f));
Deno.bench("100 concurrent streams: direct", { group: "concurrent", baseline: true }, async () => {
  await concurrent(() => direct(STREAM));
});
Deno.bench("100 concurrent streams: via gateway", { group: "concurrent" }, async () => {
  await concurrent(() => via(STREAM));
});

// The process's memory after the runs (both servers live in it; the model server keeps a record
// of every request it answered).
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  // With --v8-flags=--expose-gc (deno task bench): what is still held, not what awaits collection.
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = Deno.memoryUsage();
  console.log(`after the benchmarks: RSS ${mib(rss)}, JavaScript heap used ${mib(heapUsed)}`);
});
