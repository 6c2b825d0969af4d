// Egress per Agent on the real node, against an operator run as a host
// process: the cases of egress_cases.ts, and what follows a Restricted Agent
// (allowing targets, Unrestricted, the additive trap, an AdminNetworkPolicy
// Deny, the policy going with its Agent).
import assert from "assert";
import type { Json } from "../integration/task/harness.ts";
import { eventually, kubectl } from "../integration/env.ts";
import {
  allowed,
  blocked,
  egressStatus,
  pinnedDeny,
  probe,
  restrictedCase,
  ruleFor,
  runTask,
  startEgressWorld,
} from "./egress_cases.ts";
import { onRealNode, realNodeAgent } from "./real_node.ts";

Deno.test(
  onRealNode("e2e: egress per Agent, enforced by NetworkPolicy on the real node"),
  async () => {
    const w = await startEgressWorld();
    const { h, targets, answer, gitRule } = w;
    const modelCalls = w.modelCalls;
    const anp = `kubetask-e2e-${h.ns}`; // cluster-scoped: named after the test's namespace
    try {
      await restrictedCase(w);

      // Allowing the targets makes them reachable.
      await kubectl([
        "patch",
        "agent",
        "restricted",
        "-n",
        h.ns,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "add", path: "/spec/egress/allow", value: targets.map(ruleFor) }]),
      ]);
      await eventually("the policy allows the targets", async () => {
        const p = await h.get("networkpolicy", "kubetask-egress-restricted");
        return p?.spec?.egress?.length === 3; // DNS and the two targets
      });
      const opened = await runTask(h, "allowed", "restricted");
      for (const e of targets) assert.match(opened, allowed(e, answer(e)));
      assert.equal(modelCalls(), 1, "the model server answered the allowed Task");

      // Unrestricted: no policy, everything reachable.
      await h.agent(
        "open",
        realNodeAgent({ command: probe(targets), egress: { mode: "Unrestricted" } }),
      );
      assert.deepEqual((await egressStatus(h, "open")).egress, { mode: "Unrestricted" });
      const open = await runTask(h, "open", "open");
      for (const e of targets) assert.match(open, allowed(e, answer(e)));
      assert.equal((await h.get("task", "open"))!.status.egress.git, undefined);
      assert.deepEqual((await h.get("task", "open"))!.status.egress, { mode: "Unrestricted" });

      // The additive trap: a second Restricted Agent, and a namespace policy that
      // re-opens egress for every pod. The Agent's condition names it, and the
      // agent indeed gets through.
      await h.agent(
        "trapped",
        realNodeAgent({
          command: probe(targets),
          egress: { mode: "Restricted", allow: [gitRule] },
        }),
      );
      await egressStatus(h, "trapped");
      await h.apply({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "allow-all-egress" },
        spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{}] },
      });
      const bypassed = await eventually("EgressBypassed on the Agent", async () => {
        const a = await h.get("agent", "trapped");
        const c = a?.status?.conditions?.find((x: Json) => x.type === "EgressBypassed");
        return c?.status === "True" ? c : undefined;
      });
      assert.equal(bypassed.reason, "AdditivePolicy");
      assert.match(bypassed.message, /NetworkPolicy "allow-all-egress"/);
      assert.ok(
        (await h.eventsFor("trapped")).some((e) => e.startsWith("Warning AdditivePolicy")),
      );
      const trapped = await runTask(h, "trapped", "trapped");
      for (const e of targets) assert.match(trapped, allowed(e, answer(e)));

      // What the README shows a platform team: an AdminNetworkPolicy (the node's engine serves
      // the API) is judged before NetworkPolicies, so its Deny holds whatever the namespace's
      // policies allow. It denies the trapped Agent's pods the two targets (by address and
      // port: the git server shares the model server's address); the clone still works.
      const trappedUid = (await h.get("agent", "trapped"))!.metadata.uid;
      await kubectl(
        ["create", "-f", "-"],
        JSON.stringify(pinnedDeny(anp, h.ns, trappedUid, targets)),
      );
      const pinned = await runTask(h, "pinned", "trapped");
      assert.match(pinned, /^guide\.md$/m, "the clone worked");
      for (const e of targets) assert.match(pinned, blocked(e));

      // The policy goes with its Agent (garbage collection, through the owner reference).
      await kubectl(["delete", "agent", "restricted", "-n", h.ns, "--wait=true"]);
      await eventually(
        "the Agent's NetworkPolicy is gone",
        async () => !(await h.get("networkpolicy", "kubetask-egress-restricted")),
        60_000,
      );
    } finally {
      await kubectl(["delete", "adminnetworkpolicy", anp, "--ignore-not-found"]).catch(() => {});
      await w.close();
    }
  },
);
