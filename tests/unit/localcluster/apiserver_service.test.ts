// The `kubernetes` Service on the real node: the nat rules enter only from the
// cluster's own bridge and send ClusterIP:443 to the relay, and the relay
// passes bytes both ways unchanged.
import assert from "assert";
import { join } from "node:path";
import {
  refusalRules,
  serviceChain,
  serviceRules,
} from "../../../localcluster/realnode/apiserver_service.ts";
import { hostPort } from "../../../localcluster/realnode/apiserver_relay.ts";
import { repoRoot } from "../../../localcluster/paths.ts";

Deno.test("apiserver service: ClusterIP:443 to the relay, for this bridge's pods only", () => {
  const rules = serviceRules("kt0123abcd", "10.96.0.1", "10.244.7.1:41234");
  const chain = serviceChain("kt0123abcd");
  assert.ok(chain.length <= 28, "iptables allows 28 characters");
  assert.deepEqual(rules[0], ["-N", chain]);
  const dnat = rules[1].join(" ");
  assert.match(dnat, /-d 10\.96\.0\.1\/32 -p tcp --dport 443 /);
  assert.match(dnat, /-j DNAT --to-destination 10\.244\.7\.1:41234$/);
  // The only jump into it is from the bridge: other clusters' pods (same ClusterIP) and the
  // host itself never enter it.
  assert.deepEqual(rules.filter((r) => r[0] === "-A" && r[1] !== chain), [
    ["-A", "PREROUTING", "-i", "kt0123abcd", "-j", chain],
  ]);
  // Services without endpoints are refused from the bridge's forwarded packets only, first.
  const [create, jump] = refusalRules("kt0123abcd");
  assert.ok(create[1].length <= 28, create[1]);
  assert.deepEqual(jump, ["-I", "FORWARD", "1", "-i", "kt0123abcd", "-j", create[1]]);
});

Deno.test("apiserver relay: refuses anything but IPv4 host:port", () => {
  assert.deepEqual(hostPort("10.244.7.1:6443"), { hostname: "10.244.7.1", port: 6443 });
  for (
    const bad of [undefined, "", "localhost:1", "1.2.3.4", "1.2.3.4:0", "1.2.3.4:70000", "[::1]:1"]
  ) {
    assert.throws(() => hostPort(bad), /not an IPv4 host:port/, String(bad));
  }
});

Deno.test("apiserver relay: a request and its streamed answer pass unchanged", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`),
  );
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const relay = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-net=127.0.0.1:${port},127.0.0.1:${upstream.addr.port}`,
      join(repoRoot, "localcluster/realnode/apiserver_relay.ts"),
      `127.0.0.1:${port}`,
      `127.0.0.1:${upstream.addr.port}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let res: Response | undefined;
    for (let i = 0; i < 100 && !res; i++) {
      res = await fetch(`http://127.0.0.1:${port}/api/v1`, {
        method: "POST",
        body: "x".repeat(100_000),
      })
        .catch(() => undefined);
      if (!res) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(res, "the relay listens");
    assert.equal(await res.text(), `POST /api/v1 ${"x".repeat(100_000)}`);
  } finally {
    relay.kill();
    await relay.status;
    await relay.stderr.cancel();
    await upstream.shutdown();
  }
});
