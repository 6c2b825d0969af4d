// `cluster down` leaves nothing of a real node behind: no containerd, kubelet
// or shim process, no mount, no network namespace, no bridge, no state.
import assert from "assert";
import { down, up } from "../../localcluster/cluster.ts";
import { kubectl, pidsMentioning } from "../../localcluster/process.ts";
import { mountsUnder, REAL_NODE_LABEL, sandboxNetns } from "../../localcluster/realnode/node.ts";
import { ECHO_AGENT_IMAGE } from "../../localcluster/realnode/images.ts";
import { onRealNode } from "./real_node.ts";

const NAME = "e2e-down";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test(onRealNode("e2e: cluster down removes every trace of the real node"), async () => {
  const state = await up(NAME);
  let podNetns: string[] = [];
  try {
    assert.ok(state.realNode, state.realNodeUnavailable ?? "no real node");
    await kubectl(
      state,
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "sleeper", namespace: "default" },
        spec: {
          nodeSelector: { [REAL_NODE_LABEL]: "real" },
          tolerations: [{ key: REAL_NODE_LABEL, operator: "Exists" }],
          automountServiceAccountToken: false,
          containers: [{ name: "c", image: ECHO_AGENT_IMAGE, command: ["sleep", "3600"] }],
        },
      }),
    );
    await kubectl(state, ["wait", "pod/sleeper", "--for=condition=Ready", "--timeout=120s"]);
    assert.ok((await pidsMentioning(state.dir)).length >= 2, "containerd and kubelet run");
    assert.ok((await mountsUnder(state.dir)).length > 0, "the kubelet mounted volumes");
    // Other clusters' pods come and go meanwhile: follow this node's own namespaces.
    podNetns = await sandboxNetns(state.realNode.containerdSocket);
    assert.ok(podNetns.length > 0, "the pod has a network namespace");
  } finally {
    await down(NAME);
  }
  assert.deepEqual(await pidsMentioning(state.dir), [], "no process of the cluster is left");
  assert.deepEqual(await mountsUnder(state.dir), [], "no mount is left");
  for (const path of podNetns) assert.equal(await exists(path), false, `${path} is left`);
  const links = await new Deno.Command("ip", { args: ["-o", "link", "show"], stdout: "piped" })
    .output();
  assert.ok(!new TextDecoder().decode(links.stdout).includes(state.realNode!.bridge), "no bridge");
  assert.equal(await Deno.stat(state.dir).then(() => true, () => false), false, "no state");
});
