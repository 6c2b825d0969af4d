// The chaos harness's stalling proxy: bytes flow, a stall holds them (the
// connection stays open), and a peer that goes away mid-stream ends its pump
// quietly (closeWrite's rejection once ended the whole chaos run).
import assert from "assert";
import { StallingProxy } from "../../chaos/proxy.ts";

function echoServer(): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(1024);
        try {
          for (let n; (n = await conn.read(buf)) !== null;) await conn.write(buf.subarray(0, n));
        } catch { /* client gone */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  return listener;
}

/** One read of `conn`, as text once it completes. */
function readText(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(64);
  return conn.read(buf).then((n) => new TextDecoder().decode(buf.subarray(0, n ?? 0)));
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<"nothing">((r) => setTimeout(() => r("nothing"), ms))]);

Deno.test("StallingProxy forwards, holds bytes while stalled, and survives peers closing", async () => {
  const upstream = echoServer();
  const proxy = new StallingProxy((upstream.addr as Deno.NetAddr).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  try {
    await conn.write(new TextEncoder().encode("one"));
    assert.equal(await within(readText(conn), 2000), "one");
    proxy.stall();
    await conn.write(new TextEncoder().encode("two"));
    const pending = readText(conn);
    assert.equal(await within(pending, 300), "nothing", "nothing arrives while stalled");
    proxy.unstall();
    assert.equal(await within(pending, 2000), "two");
    // The proxy closes under live pumps (the harness's teardown): no unhandled rejection may
    // escape, or it ends the test (and it ended the chaos run).
    proxy.close();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    proxy.close();
    upstream.close();
    try {
      conn.close();
    } catch { /* closed */ }
  }
});
