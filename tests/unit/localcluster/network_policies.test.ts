// The real node's NetworkPolicy engine: names that keep two clusters' engines apart.
import assert from "assert";
import { bridgeOf } from "../../../localcluster/realnode/network.ts";
import { divertChain, queueIdOf } from "../../../localcluster/realnode/network_policies.ts";

Deno.test("network policies: each cluster has its own queue, away from the engine's default 100", () => {
  const ids = ["test", "egress", "agents", "chaos-1", "a"].map(queueIdOf);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.ok(id >= 1000 && id < 65536, `${id}`);
  assert.equal(queueIdOf("egress"), queueIdOf("egress"), "stable across runs");
});

Deno.test("network policies: the iptables chain of a bridge fits iptables' 28 characters", () => {
  const chain = divertChain(bridgeOf("a-cluster-name-of-forty-characters-long1"));
  assert.ok(chain.length <= 28, chain);
  assert.notEqual(divertChain(bridgeOf("test")), divertChain(bridgeOf("egress")));
});
