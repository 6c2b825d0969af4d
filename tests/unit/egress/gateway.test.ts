// The gateway's rule in a Restricted Agent's egress: added for an Agent with a
// modelProvider only, after the Agent's own rules, and named as the operator's.
import assert from "assert";
import { egressRuleField, withGatewayRule } from "../../../controllers/egress/gateway.ts";
import { buildNetworkPolicy } from "../../../controllers/egress/policy.ts";

const gateway = {
  url: "https://gw",
  caPem: "",
  audience: "kubetask-gateway",
  tokenExpirationSeconds: 600,
};

Deno.test("egress: an Agent with a modelProvider gets the gateway's rule after its own", () => {
  const own = { mode: "Restricted" as const, allow: [{ cidr: "203.0.113.7/32" }] };
  const viaService = withGatewayRule(
    { modelProvider: "anthropic", egress: own },
    { ...gateway, egress: { service: { namespace: "kubetask-system", name: "kubetask-gateway" } } },
  );
  assert.deepEqual(viaService?.allow, [
    { cidr: "203.0.113.7/32" },
    { service: { namespace: "kubetask-system", name: "kubetask-gateway" } },
  ]);
  const viaCidr = withGatewayRule(
    { modelProvider: "anthropic" },
    { ...gateway, egress: { cidr: "10.0.0.5/32", port: 8443 } },
  );
  const policy = buildNetworkPolicy("team", "a", "uid-1", viaCidr, new Map());
  assert.deepEqual(policy.spec.egress.at(-1), {
    to: [{ ipBlock: { cidr: "10.0.0.5/32" } }],
    ports: [{ protocol: "TCP", port: 8443 }],
  });
  // No provider, or a gateway the operator was not told how to reach: nothing added.
  assert.equal(
    withGatewayRule({ egress: own }, { ...gateway, egress: { cidr: "10.0.0.5/32", port: 1 } }),
    own,
  );
  assert.equal(withGatewayRule({ modelProvider: "p", egress: own }, gateway), own);
  assert.equal(egressRuleField({ egress: own }, 0), "spec.egress.allow[0]");
  assert.match(egressRuleField({ egress: own }, 1), /--gateway-service/);
});
