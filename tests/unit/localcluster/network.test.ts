// The real node's network naming: bridge names Linux accepts, one per cluster,
// and the overlap test that keeps two clusters' /24s apart.
import assert from "assert";
import { bridgeOf, overlaps } from "../../../localcluster/realnode/network.ts";

Deno.test("network: a bridge name per cluster, short enough for Linux", () => {
  const names = ["test", "dev", "node", "default", "e2e-down", "a-much-longer-cluster-name"];
  const bridges = names.map(bridgeOf);
  assert.equal(new Set(bridges).size, names.length);
  for (const b of bridges) assert.match(b, /^kt[0-9a-f]{8}$/); // 10 of the 15 characters allowed
  assert.equal(bridgeOf("test"), bridgeOf("test"), "the same cluster finds its bridge again");
});

Deno.test("network: overlapping IPv4 networks", () => {
  assert.equal(overlaps("10.244.7.0/24", "10.244.7.1/24"), true);
  assert.equal(overlaps("10.244.0.0/16", "10.244.7.0/24"), true);
  assert.equal(overlaps("10.244.7.0/24", "10.244.8.0/24"), false);
  assert.equal(overlaps("10.244.7.1", "10.244.7.0/24"), true, "a host address inside");
  assert.equal(overlaps("192.0.2.2/24", "10.244.7.0/24"), false);
});
