// `cluster down` leaves nothing of a real node behind: no containerd, kubelet
// or shim process, no mount, no network namespace, no bridge, no log link, no
// state. The second cluster runs beside the test run's own, which keeps working.
import assert from "assert";
import { down, readState, up } from "../../localcluster/cluster.ts";
import { kubectl, processesMentioning } from "../../localcluster/process.ts";
import { containerLogLinks, mountsUnder, sandboxNetns } from "../../localcluster/realnode/node.ts";
import { REAL_NODE } from "../../localcluster/realnode/node_config.ts";
import { onRealNode, runSleeper } from "./real_node.ts";

const TEST_CLUSTER = Deno.env.get("KUBETASK_TEST_CLUSTER") ?? "test";
// Named after the run's cluster: two checkouts testing side by side do not share it.
const NAME = `${TEST_CLUSTER}-down`;

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test(onRealNode("e2e: cluster down removes every trace of the real node"), async () => {
  const state = await up(NAME);
  let podNetns: string[] = [];
  try {
    assert.ok(state.realNode, state.realNodeUnavailable ?? "no real node");
    await runSleeper(state);
    assert.ok((await processesMentioning(state.dir)).length >= 2, "containerd and kubelet run");
    assert.ok((await mountsUnder(state.dir)).length > 0, "the kubelet mounted volumes");
    // Other clusters' pods come and go meanwhile: follow this node's own namespaces.
    podNetns = await sandboxNetns(state.realNode.containerdSocket);
    assert.ok(podNetns.length > 0, "the pod has a network namespace");
    assert.ok((await containerLogLinks(state.dir)).length > 0, "the kubelet linked the pod's log");
    const beside = (await readState(TEST_CLUSTER))?.realNode;
    if (beside) {
      assert.notEqual(state.realNode.bridge, beside.bridge);
      assert.notEqual(state.realNode.subnet, beside.subnet);
    }
  } finally {
    await down(NAME);
  }
  assert.deepEqual(await processesMentioning(state.dir), [], "no process of the cluster is left");
  assert.deepEqual(await mountsUnder(state.dir), [], "no mount is left");
  for (const path of podNetns) assert.equal(await exists(path), false, `${path} is left`);
  const links = await new Deno.Command("ip", { args: ["-o", "link", "show"], stdout: "piped" })
    .output();
  assert.ok(!new TextDecoder().decode(links.stdout).includes(state.realNode!.bridge), "no bridge");
  assert.deepEqual(await containerLogLinks(state.dir), [], "no log link is left");
  assert.equal(await Deno.stat(state.dir).then(() => true, () => false), false, "no state");
  const beside = await readState(TEST_CLUSTER);
  if (beside?.realNode) {
    const ready = await kubectl(beside, [
      "get",
      "node",
      REAL_NODE,
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    assert.equal(ready, "True", "the cluster beside it still has its node");
  }
});
