// /metrics answers only bearer tokens the apiserver authenticates
// (TokenReview) and authorizes for get on /metrics (SubjectAccessReview); the
// probes stay open; the server speaks HTTPS with a certificate made at start.
import assert from "assert";
import { serveHealth } from "../../../controllers/runtime/health.ts";
import { Metrics } from "../../../controllers/runtime/metrics.ts";
import { MetricsAuthorizer } from "../../../controllers/runtime/metrics_auth.ts";
import { selfSignedCertificate } from "../../../controllers/runtime/self_signed.ts";
import { silentLogger } from "../../../controllers/runtime/log.ts";
import type { ApiTransport } from "../../../controllers/runtime/transport.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** An apiserver that knows two tokens: "reader" (allowed) and "tenant" (not). */
function fakeApiserver() {
  const requests: { path: string; body: Json }[] = [];
  const transport = {
    json: (_method: string, path: string, opts: { body: Json }) => {
      requests.push({ path, body: opts.body });
      if (path.endsWith("/tokenreviews")) {
        const token = opts.body.spec.token;
        const known = token === "reader" || token === "tenant";
        return Promise.resolve({
          status: known
            ? {
              authenticated: true,
              user: { username: `system:serviceaccount:ns:${token}`, uid: "u1", groups: ["g"] },
            }
            : { authenticated: false },
        });
      }
      const user = opts.body.spec.user;
      return Promise.resolve({ status: { allowed: user === "system:serviceaccount:ns:reader" } });
    },
  } as unknown as ApiTransport;
  return { transport, requests };
}

Deno.test("metrics auth: no token 401, unknown token 401, not allowed 403, reader 200", async () => {
  const api = fakeApiserver();
  const auth = new MetricsAuthorizer(api.transport, silentLogger);
  assert.equal(await auth.decide(null), 401);
  assert.equal(await auth.decide("Basic cmVhZGVyOng="), 401);
  assert.equal(await auth.decide("Bearer forged"), 401);
  assert.equal(await auth.decide("Bearer tenant"), 403);
  assert.equal(await auth.decide("Bearer reader"), 200);
  const review = api.requests.find((r) => r.path.endsWith("/subjectaccessreviews"))!;
  assert.deepEqual(review.body.spec.nonResourceAttributes, { path: "/metrics", verb: "get" });
  assert.deepEqual(review.body.spec.groups, ["g"]);
});

Deno.test("metrics auth: a decision is kept a few seconds per token, then asked again", async () => {
  const api = fakeApiserver();
  let now = 0;
  const auth = new MetricsAuthorizer(api.transport, silentLogger, () => now);
  for (let i = 0; i < 5; i++) assert.equal(await auth.decide("Bearer reader"), 200);
  assert.equal(api.requests.length, 2, "one TokenReview and one SubjectAccessReview");
  now += 60_000;
  await auth.decide("Bearer reader");
  assert.equal(api.requests.length, 4);
});

Deno.test("metrics auth: over HTTPS, /metrics is refused without a token, probes stay open", async () => {
  const tls = await selfSignedCertificate("kubetask-metrics", ["127.0.0.1"]);
  const auth = new MetricsAuthorizer(fakeApiserver().transport, silentLogger);
  const server = serveHealth("127.0.0.1:0", new Metrics(), () => true, {
    tls,
    authorize: (header) => auth.decide(header),
  });
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  const base = `https://127.0.0.1:${server.addr.port}`;
  const get = async (path: string, token?: string) => {
    const res = await fetch(`${base}${path}`, {
      client,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: res.status, text: await res.text() };
  };
  try {
    assert.equal((await get("/metrics")).status, 401);
    assert.equal((await get("/metrics", "tenant")).status, 403);
    const scraped = await get("/metrics", "reader");
    assert.equal(scraped.status, 200);
    assert.match(scraped.text, /kubetask_workqueue_depth/);
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 200);
    const plain = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`).then(
      (res) => `HTTP ${res.status}`,
      () => "refused",
    );
    assert.equal(plain, "refused", "no plain HTTP on the HTTPS port");
  } finally {
    client.close();
    await server.shutdown();
  }
});
