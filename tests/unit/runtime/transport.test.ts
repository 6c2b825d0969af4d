// The client's answer to API Priority and Fairness: a 429 is sent again after
// the server's Retry-After, a bounded number of times, against a real HTTP
// server on loopback (so the request really is sent again, body included).
import assert from "assert";
import { AccessProvider } from "../../../controllers/runtime/access.ts";
import {
  ApiTransport,
  MAX_TOO_MANY_REQUESTS_RETRIES,
  retryAfterMs,
} from "../../../controllers/runtime/transport.ts";

Deno.test("retryAfterMs: whole seconds, with a floor, a cap and a default for junk", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs("0"), 100);
  assert.equal(retryAfterMs("600"), 10_000);
  assert.equal(retryAfterMs(null), 1000);
  assert.equal(retryAfterMs(""), 1000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT"), 1000);
});

/** A server that refuses the first `refusals` requests with 429, then answers 201. */
function apfServer(refusals: number) {
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    bodies.push(await req.text());
    if (bodies.length <= refusals) {
      return new Response('{"kind":"Status","reason":"TooManyRequests"}', {
        status: 429,
        headers: { "Retry-After": "0" },
      });
    }
    return Response.json({ created: true }, { status: 201 });
  });
  const transport = new ApiTransport(
    new AccessProvider({ server: `http://127.0.0.1:${server.addr.port}`, headers: {} }),
  );
  return { bodies, server, transport };
}

Deno.test("a 429 is retried with its body until the server accepts", async () => {
  const { bodies, server, transport } = apfServer(2);
  try {
    const got = await transport.json("POST", "/api/v1/x", { body: { n: 1 } });
    assert.deepEqual(got, { created: true });
    assert.deepEqual(bodies, ['{"n":1}', '{"n":1}', '{"n":1}']);
  } finally {
    await transport.close();
    await server.shutdown();
  }
});

Deno.test("a 429 that persists is returned after a bounded number of retries", async () => {
  const { bodies, server, transport } = apfServer(100);
  try {
    const res = await transport.send("GET", "/api/v1/x");
    assert.equal(res.status, 429);
    await res.text();
    assert.equal(bodies.length, 1 + MAX_TOO_MANY_REQUESTS_RETRIES);
  } finally {
    await transport.close();
    await server.shutdown();
  }
});
