// Egress closes the loop: a Restricted Agent with a modelProvider lists no
// rule for any model API, yet reaches the model gateway (the operator adds
// the gateway's rule to the Agent's NetworkPolicy), and nothing else: not the
// provider's API (the scripted model server, same address, another port).
import assert from "assert";
import { TaskHarness } from "../integration/task/harness.ts";
import { eventually } from "../integration/env.ts";
import { AUDIENCE, startGatewayWorld } from "../integration/gateway/world.ts";
import { agentLog, GIT_IMAGE, onRealNode, realNode, realNodeAgent } from "./real_node.ts";

/** Tries each http endpoint with a short timeout and says what happened (busybox in the image). */
function probe(endpoints: string[]): string[] {
  return [
    "sh",
    "-c",
    `sleep 5; for e in ${endpoints.join(" ")}; do ` +
    `out=$(timeout 5 wget -q -O - http://$e 2>&1); rc=$?; ` +
    `if [ $rc = 0 ]; then echo "ALLOWED $e: $out"; ` +
    `elif [ $rc = 143 ]; then echo "BLOCKED $e: timed out"; ` +
    `else echo "OTHER $e: $out (exit $rc)"; fi; done`,
  ];
}

Deno.test(
  onRealNode(
    "e2e: a Restricted Agent with a modelProvider reaches the gateway and not the model API",
  ),
  async () => {
    const address = realNode!.gateway;
    // Plain HTTP here: the probe is busybox wget, and only reachability is asked.
    const w = await startGatewayWorld({ hostname: address, scripts: [] });
    const gatewayPort = Number(new URL(w.gateway.url).port);
    const h = await TaskHarness.start({
      egress: true,
      settings: () => ({
        gitImage: GIT_IMAGE,
        gateway: {
          url: w.gateway.url,
          caPem: "-",
          audience: AUDIENCE,
          tokenExpirationSeconds: 600,
          egress: { cidr: `${address}/32`, port: gatewayPort },
        },
      }),
    });
    try {
      const gatewayTarget = `${address}:${gatewayPort}/healthz`;
      const modelTarget = `${new URL(w.model.url).host}/v1/models`;
      await h.agent(
        "via-gateway",
        realNodeAgent({
          command: probe([gatewayTarget, modelTarget]),
          modelProvider: w.provider,
          egress: { mode: "Restricted" },
        }),
      );
      const policy = await eventually(
        "the Agent's NetworkPolicy with the gateway's rule",
        async () => {
          const p = await h.get("networkpolicy", "kubetask-egress-via-gateway");
          return p?.spec?.egress?.some((r: { to?: { ipBlock?: { cidr: string } }[] }) =>
            r.to?.[0]?.ipBlock?.cidr === `${address}/32`
          ) && p;
        },
      );
      assert.deepEqual(policy.spec.egress.at(-1), {
        to: [{ ipBlock: { cidr: `${address}/32` } }],
        ports: [{ protocol: "TCP", port: gatewayPort }],
      });
      await h.task("probe", { agentRef: "via-gateway" });
      await h.waitForPhase("probe", "Completed", 180_000);
      const log = await agentLog(h, "probe");
      console.error(`[e2e] gateway egress:\n${log}`);
      assert.match(log, new RegExp(`^ALLOWED ${gatewayTarget.replaceAll(".", "\\.")}: ok$`, "m"));
      assert.match(
        log,
        new RegExp(`^BLOCKED ${modelTarget.replaceAll(".", "\\.")}: timed out$`, "m"),
      );
      assert.equal(w.model.requests.length, 0, "the model API was never reached from the pod");
    } finally {
      await h.cleanup();
      await w.close();
    }
  },
);
