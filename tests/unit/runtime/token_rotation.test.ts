// In-cluster credentials across a token rotation: the kubelet swaps the
// service-account token file, and the operator must use the new token without
// a restart, for plain requests and for watches alike. Against a real HTTP
// server on loopback that accepts one token at a time, as the apiserver does
// once the old token's bound object is gone.
import assert from "assert";
import { join } from "node:path";
import { AccessProvider, TOKEN_FILE_REREAD_MS } from "../../../controllers/runtime/access.ts";
import { ApiTransport } from "../../../controllers/runtime/transport.ts";

/** A server accepting only `valid.token`; what each request carried, and whether it watched. */
function apiserver(valid: { token: string }) {
  const seen: { token: string; watch: boolean }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const token = req.headers.get("Authorization")?.replace(/^Bearer /, "") ?? "";
    seen.push({ token, watch: new URL(req.url).searchParams.get("watch") === "true" });
    if (token !== valid.token) {
      return Response.json({ kind: "Status", reason: "Unauthorized" }, { status: 401 });
    }
    return Response.json({ kind: "List", items: [] });
  });
  return { seen, server, url: `http://127.0.0.1:${server.addr.port}` };
}

/** A token file as the kubelet writes it (atomically replaced), read through a stepped clock. */
async function inCluster(url: string) {
  const dir = await Deno.makeTempDir({ prefix: "kubetask-token-" });
  const tokenFile = join(dir, "token");
  const rotate = async (token: string) => {
    await Deno.writeTextFile(`${tokenFile}.new`, `${token}\n`);
    await Deno.rename(`${tokenFile}.new`, tokenFile);
  };
  const clock = { ms: 1_000_000 };
  const transport = new ApiTransport(
    new AccessProvider({ server: url, headers: {}, tokenFile }, {}, () => clock.ms),
  );
  return { dir, rotate, clock, transport };
}

type World = { api: ReturnType<typeof apiserver>; c: Awaited<ReturnType<typeof inCluster>> };

/** The loopback apiserver accepting `valid.token`, an in-cluster client of it, torn down after `fn`. */
async function withInCluster(valid: { token: string }, fn: (w: World) => Promise<void>) {
  const api = apiserver(valid);
  const c = await inCluster(api.url);
  try {
    await fn({ api, c });
  } finally {
    await c.transport.close();
    await api.server.shutdown();
    await Deno.remove(c.dir, { recursive: true });
  }
}

Deno.test("a rotated token file is used once the re-read interval has passed", async () => {
  const valid = { token: "token-a" };
  await withInCluster(valid, async ({ api, c }) => {
    await c.rotate("token-a");
    await c.transport.json("GET", "/api/v1/pods");
    // The kubelet writes the new token; the old one is still good for a while.
    await c.rotate("token-b");
    await c.transport.json("GET", "/api/v1/pods");
    assert.deepEqual(api.seen.map((s) => s.token), ["token-a", "token-a"], "cached meanwhile");
    c.clock.ms += TOKEN_FILE_REREAD_MS + 1;
    valid.token = "token-b";
    await c.transport.json("GET", "/api/v1/pods");
    assert.deepEqual(api.seen.map((s) => s.token), ["token-a", "token-a", "token-b"]);
  });
});

Deno.test("a 401 re-reads the token file at once and retries, watches included", async () => {
  const valid = { token: "token-a" };
  await withInCluster(valid, async ({ api, c }) => {
    await c.rotate("token-a");
    await c.transport.json("GET", "/api/v1/pods");
    // Rotated and the old token refused at once (its bound object deleted), within the interval.
    await c.rotate("token-b");
    valid.token = "token-b";
    const list = await c.transport.json<{ items: unknown[] }>("GET", "/api/v1/pods");
    assert.deepEqual(list.items, []);
    c.clock.ms += 1; // still within the interval: only the 401 made it re-read
    await c.rotate("token-c");
    valid.token = "token-c";
    const watch = await c.transport.send("GET", "/api/v1/pods", { query: { watch: true } });
    assert.equal(watch.status, 200);
    await watch.text();
    assert.deepEqual(api.seen, [
      { token: "token-a", watch: false },
      { token: "token-a", watch: false },
      { token: "token-b", watch: false },
      { token: "token-b", watch: true },
      { token: "token-c", watch: true },
    ]);
  });
});

Deno.test("a token refused even after a re-read is returned as 401, not retried forever", async () => {
  await withInCluster({ token: "never-issued" }, async ({ api, c }) => {
    await c.rotate("token-a");
    const res = await c.transport.send("GET", "/api/v1/pods");
    assert.equal(res.status, 401);
    await res.text();
    assert.equal(api.seen.length, 2, "one retry after the re-read");
  });
});
