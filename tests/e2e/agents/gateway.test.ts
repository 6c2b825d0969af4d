// Each shipped agent CLI, the real one in its image, on the real node, doing
// the fix-and-push work through the KubeTask model gateway (through_gateway.ts).
import { onRealNode } from "../real_node.ts";
import { GATEWAY_CASES } from "./gateway_cases.ts";
import { fixAndPushThroughGateway } from "./through_gateway.ts";

for (const c of Object.values(GATEWAY_CASES)) {
  Deno.test(
    onRealNode(
      `e2e: ${c.cli} through the model gateway: no key in the pod, live usage, transcript for its owner only`,
    ),
    () => fixAndPushThroughGateway(c),
  );
}
