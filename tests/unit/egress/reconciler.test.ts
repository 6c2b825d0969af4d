// The Agent egress reconciler on the in-memory fake: the NetworkPolicy of a
// Restricted Agent (created, updated, deleted with the mode and the Agent),
// the default mode, Services resolved to pods, and the additive trap.
import assert from "assert";
import { createEgressController } from "../../../controllers/egress/controller.ts";
import { reconcileAgentEgress } from "../../../controllers/egress/reconciler.ts";
import { NetworkPolicyResource, ServiceResource } from "../../../controllers/runtime/resources.ts";
import { AgentResource, KubeTaskConfigResource } from "../../../controllers/kinds.ts";
import type { KubeObject } from "../../../controllers/runtime/types.ts";
import { FakeCluster } from "../support/fake_cluster.ts";

const NS = "team";
const req = { kind: "Agent", namespace: NS, name: "coder" };
const POLICY = "kubetask-egress-coder";

function setup(egress?: KubeObject, podLabels?: Record<string, string>): FakeCluster {
  const c = new FakeCluster();
  c.declareIndexes(createEgressController());
  c.seed(AgentResource, {
    metadata: { namespace: NS, name: "coder", generation: 1 },
    spec: {
      serviceAccountName: "sa",
      ...(egress ? { egress } : {}),
      ...(podLabels ? { podSpec: { labels: podLabels } } : {}),
    },
  });
  return c;
}
const agent = (c: FakeCluster) => c.stored<KubeObject>(AgentResource, NS, "coder")!;
const condition = (c: FakeCluster, type: string) =>
  agent(c).status?.conditions?.find((x: { type: string }) => x.type === type);
const policy = (c: FakeCluster) => c.stored<KubeObject>(NetworkPolicyResource, NS, POLICY);

const GIT = { cidr: "10.244.7.1/32", ports: [{ port: 8443 }] };

Deno.test("egress: a Restricted Agent gets one owned NetworkPolicy: deny all but DNS and its rules", async () => {
  const c = setup({ mode: "Restricted", allow: [GIT] });
  await reconcileAgentEgress(req, c.context());
  const p = policy(c)!;
  assert.ok(p, "NetworkPolicy created");
  assert.equal(p.metadata?.ownerReferences?.[0].uid, agent(c).metadata?.uid);
  assert.deepEqual(p.spec.podSelector, {
    matchLabels: { "kubetask.io/agent-uid": agent(c).metadata?.uid },
  });
  assert.deepEqual(p.spec.policyTypes, ["Egress"]);
  assert.deepEqual(p.spec.egress, [
    {
      to: [{
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
      }],
      ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    },
    { to: [{ ipBlock: { cidr: "10.244.7.1/32" } }], ports: [{ protocol: "TCP", port: 8443 }] },
  ]);
  assert.deepEqual(agent(c).status.egress, { mode: "Restricted", networkPolicy: POLICY });
  assert.equal(condition(c, "EgressReady").status, "True");
  assert.equal(condition(c, "EgressBypassed").status, "False");
  assert.deepEqual(c.events.map((e) => e.reason), ["NetworkPolicyCreated"]);
});

Deno.test("egress: without DNS the policy allows only the rules; no rules deny everything", async () => {
  const c = setup({ mode: "Restricted", dns: false });
  await reconcileAgentEgress(req, c.context());
  assert.deepEqual(policy(c)!.spec.egress, []);
});

Deno.test("egress: a changed allow-list updates the policy; Unrestricted deletes it", async () => {
  const c = setup({ mode: "Restricted", allow: [GIT] });
  await reconcileAgentEgress(req, c.context());
  c.mutate(AgentResource, NS, "coder", (a) => {
    a.spec.egress.allow.push({ cidr: "10.244.7.1/32", ports: [{ port: 9000, protocol: "UDP" }] });
  });
  await reconcileAgentEgress(req, c.context());
  assert.deepEqual(policy(c)!.spec.egress.at(-1), {
    to: [{ ipBlock: { cidr: "10.244.7.1/32" } }],
    ports: [{ protocol: "UDP", port: 9000 }],
  });
  c.mutate(AgentResource, NS, "coder", (a) => {
    a.spec.egress.mode = "Unrestricted";
  });
  await reconcileAgentEgress(req, c.context());
  assert.equal(policy(c), undefined, "policy deleted");
  assert.deepEqual(agent(c).status.egress, { mode: "Unrestricted" });
  assert.equal(condition(c, "EgressBypassed"), undefined);
});

Deno.test("egress: the policy goes with its Agent", async () => {
  const c = setup({ mode: "Restricted", allow: [GIT] });
  await reconcileAgentEgress(req, c.context());
  assert.ok(policy(c));
  await c.delete(AgentResource, NS, "coder");
  c.sync();
  assert.equal(policy(c), undefined);
  assert.deepEqual(await reconcileAgentEgress(req, c.context()), {});
});

Deno.test("egress: the default mode comes from the KubeTaskConfig, then the operator's flag", async () => {
  const unset = setup();
  await reconcileAgentEgress(req, unset.context());
  assert.equal(policy(unset), undefined, "Unrestricted unless the platform opts in");
  assert.deepEqual(agent(unset).status.egress, { mode: "Unrestricted" });

  const byFlag = setup();
  await reconcileAgentEgress(req, byFlag.context(), "Restricted");
  assert.ok(policy(byFlag), "--default-egress Restricted");

  const byConfig = setup();
  byConfig.seed(KubeTaskConfigResource, {
    metadata: { namespace: NS, name: "default" },
    spec: { defaultEgressMode: "Restricted" },
  });
  await reconcileAgentEgress(req, byConfig.context(), "Unrestricted");
  assert.ok(policy(byConfig), "the namespace's KubeTaskConfig wins over the flag");

  const own = setup({ mode: "Unrestricted" });
  await reconcileAgentEgress(req, own.context(), "Restricted");
  assert.equal(policy(own), undefined, "the Agent's own mode wins");
});

Deno.test("egress: a Service resolves to its namespace, pod selector and target ports", async () => {
  const c = setup({
    mode: "Restricted",
    dns: false,
    allow: [{ service: { namespace: "models", name: "llm" } }],
  });
  c.seed(ServiceResource, {
    metadata: { namespace: "models", name: "llm" },
    spec: { selector: { app: "llm" }, ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }] },
  });
  await reconcileAgentEgress(req, c.context());
  assert.deepEqual(policy(c)!.spec.egress, [{
    to: [{
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "models" } },
      podSelector: { matchLabels: { app: "llm" } },
    }],
    ports: [{ protocol: "TCP", port: 8080 }],
  }]);
  assert.equal(condition(c, "EgressReady").status, "True");
});

Deno.test("egress: a Service that cannot be expressed is left out (closed), with a condition and a Warning naming the field", async () => {
  const c = setup({ mode: "Restricted", allow: [GIT, { service: { name: "missing" } }] });
  await reconcileAgentEgress(req, c.context());
  assert.equal(policy(c)!.spec.egress.length, 2, "DNS and the CIDR rule only");
  const ready = condition(c, "EgressReady");
  assert.equal(ready.status, "False");
  assert.equal(ready.reason, "EgressRuleUnresolved");
  assert.match(ready.message, /spec\.egress\.allow\[1\]\.service: Service team\/missing not found/);
  const warning = c.events.find((e) => e.type === "Warning")!;
  assert.equal(warning.reason, "EgressRuleUnresolved");
  assert.match(warning.message, /spec\.egress\.allow\[1\]\.service/);
});

Deno.test("egress: another NetworkPolicy that selects the agent pods and allows egress raises EgressBypassed naming it", async () => {
  const c = setup({ mode: "Restricted", allow: [GIT] }, { team: "ai" });
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: "allow-all-egress" },
    spec: { podSelector: { matchLabels: { team: "ai" } }, policyTypes: ["Egress"], egress: [{}] },
  });
  // Neither of these re-opens anything: ingress only, and a deny-all.
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: "ingress-only" },
    spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] },
  });
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: "deny-all" },
    spec: { podSelector: {}, policyTypes: ["Egress"] },
  });
  await reconcileAgentEgress(req, c.context());
  const bypassed = condition(c, "EgressBypassed");
  assert.equal(bypassed.status, "True");
  assert.equal(bypassed.reason, "AdditivePolicy");
  assert.match(bypassed.message, /NetworkPolicy "allow-all-egress" in namespace team/);
  assert.doesNotMatch(bypassed.message, /ingress-only|deny-all/);
  assert.ok(c.events.some((e) => e.type === "Warning" && e.reason === "AdditivePolicy"));

  // Removed: the condition clears.
  await c.delete(NetworkPolicyResource, NS, "allow-all-egress");
  c.sync();
  await reconcileAgentEgress(req, c.context());
  assert.equal(condition(c, "EgressBypassed").status, "False");
});

Deno.test("egress: a policy selecting other pods, or by a Task it cannot know, is judged by what it may select", async () => {
  const c = setup({ mode: "Restricted" });
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: "web" },
    spec: { podSelector: { matchLabels: { app: "web" } }, egress: [{}] },
  });
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: "one-task" },
    spec: {
      podSelector: { matchExpressions: [{ key: "kubetask.io/task", operator: "Exists" }] },
      egress: [{}],
    },
  });
  await reconcileAgentEgress(req, c.context());
  assert.match(condition(c, "EgressBypassed").message, /"one-task"/);
  assert.doesNotMatch(condition(c, "EgressBypassed").message, /"web"/);
});

Deno.test("egress: a policy name held by someone else is refused with a condition and a Warning", async () => {
  const c = setup({ mode: "Restricted" });
  c.seed(NetworkPolicyResource, {
    metadata: { namespace: NS, name: POLICY },
    spec: { podSelector: {}, egress: [{}] },
  });
  await reconcileAgentEgress(req, c.context());
  const ready = condition(c, "EgressReady");
  assert.equal(ready.status, "False");
  assert.equal(ready.reason, "NetworkPolicyNameTaken");
  assert.ok(c.events.some((e) => e.type === "Warning" && e.reason === "NetworkPolicyNameTaken"));
  assert.deepEqual(policy(c)!.spec.egress, [{}], "the stranger's policy is left alone");
});
