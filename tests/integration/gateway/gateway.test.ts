// The model gateway on a real apiserver (agent pods on the kwok node): a
// Task's pod token is accepted only through the chain pod -> Job -> Task ->
// Agent -> provider, the provider's key is added, usage reaches the Task's
// status while it runs, a budget refuses before forwarding and stops the Task,
// and a transcript is readable by who may get the Task and nobody else.
// The attacks replayed: a token of another audience, one not bound to a pod,
// a hand-made pod carrying the Task's labels, a request for another provider,
// a pod gone, a reader of another namespace.
import assert from "assert";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { AGENT_SA, condition } from "../task/harness.ts";
import { ask, AUDIENCE, call, gatewayAndOperator, HOLD, mintToken, podOf } from "./world.ts";

Deno.test("gateway: a Task's pod token gets the provider's key added, usage on the Task live, refusals for every forgery", async () => {
  const marker = `MARK-gw-${crypto.randomUUID().slice(0, 8)}`;
  const { w, h } = await gatewayAndOperator(marker);
  try {
    await h.task("fix", { agentRef: "coder", description: "Fix it" });
    const pod = await podOf(h, "fix");
    const token = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });

    // The real call: forwarded with the provider's key, never the token.
    const ok = await call(w, w.provider, token, ask(marker));
    assert.equal(ok.status, 200, ok.text);
    const seen = w.model.requests.filter((r) => r.marker === marker);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers["x-api-key"], w.key);
    assert.ok(!JSON.stringify(seen[0].headers).includes(token));

    // The Task's status says it while the Task still runs.
    const served = w.model.usage(marker);
    const live = await eventually("status.usage from the gateway", async () => {
      const t = await h.get("Task", "fix");
      return t?.status?.usage?.source === "Gateway" && t.status.usage.requests === 1 && t;
    });
    assert.equal(live.status.phase, "Running");
    assert.equal(live.status.usage.inputTokens, served.inputTokens);
    assert.equal(live.status.usage.outputTokens, served.outputTokens);
    const cost = (served.inputTokens * 3 + served.outputTokens * 15) / 1e6;
    assert.ok(
      Math.abs(Number(live.status.usage.costUSD) - cost) <= 0.000001,
      live.status.usage.costUSD,
    );

    // Another provider than the Agent's: 403, not forwarded.
    const other = await call(w, "someone-elses", token, ask(marker));
    assert.equal(other.status, 403, other.text);
    // A token for the apiserver's own audience (stolen from another use): 401.
    const wrongAudience = await mintToken(h.ns, AGENT_SA, {
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });
    assert.equal((await call(w, w.provider, wrongAudience, ask(marker))).status, 401);
    // The gateway's audience but bound to no pod: 401.
    const unbound = await mintToken(h.ns, AGENT_SA, { audience: AUDIENCE });
    assert.equal((await call(w, w.provider, unbound, ask(marker))).status, 401);
    // A pod made by hand with the Task's labels and ServiceAccount: no Job of ours controls it.
    // (Not the Job's own selector labels: the Job controller would adopt such a pod, then
    // delete one of the two, as it keeps one pod per Job.)
    const taskLabels = Object.fromEntries(
      Object.entries(pod.metadata.labels).filter(([k]) => k.startsWith("kubetask.io/")),
    );
    assert.ok(Object.keys(taskLabels).length >= 3, JSON.stringify(taskLabels));
    await h.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "forged", labels: { ...taskLabels, ...HOLD } },
      spec: {
        serviceAccountName: AGENT_SA,
        containers: [{ name: "agent", image: "example.test/agent:1" }],
      },
    });
    const forged = JSON.parse(await kubectl(["get", "pod", "forged", "-n", h.ns, "-o", "json"]));
    const forgedToken = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: "forged", uid: forged.metadata.uid },
    });
    const refused = await call(w, w.provider, forgedToken, ask(marker));
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.text, /no Job of ours controls it/);
    assert.equal(w.model.requests.filter((r) => r.marker === marker).length, 1, "none forwarded");

    // Transcripts: the Task's namespace may read, another's may not, nobody anonymously.
    await h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "owner" } });
    await h.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "task-reader" },
      rules: [{ apiGroups: ["kubetask.io"], resources: ["tasks"], verbs: ["get"] }],
    });
    await h.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "task-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "task-reader" },
      subjects: [{ kind: "ServiceAccount", name: "owner", namespace: h.ns }],
    });
    const stranger = await testNamespace("stranger");
    try {
      await kubectl(["create", "serviceaccount", "someone", "-n", stranger.name]);
      const read = (bearer?: string) =>
        fetch(`${w.gateway.url}/transcripts/${h.ns}/fix`, {
          headers: bearer ? { "x-kubetask-user-authorization": `Bearer ${bearer}` } : {},
        }).then(async (r) => ({ status: r.status, text: await r.text() }));
      const mine = await read(await mintToken(h.ns, "owner"));
      assert.equal(mine.status, 200, mine.text);
      assert.ok(mine.text.includes(marker), mine.text);
      assert.ok(!mine.text.includes(w.key) && !mine.text.includes(token), "no key, no token");
      assert.equal((await read(await mintToken(stranger.name, "someone"))).status, 403);
      assert.equal((await read()).status, 401);
    } finally {
      await stranger.cleanup();
    }

    // The pod gone: its token is worth nothing (after the gateway's short memory of it).
    await kubectl(["delete", "pod", pod.metadata.name, "-n", h.ns, "--wait=true"]);
    await eventually(
      "the deleted pod's token refused",
      async () => (await call(w, w.provider, token, ask(marker))).status === 401,
    );
  } finally {
    await h.cleanup();
    await w.close();
  }
});

Deno.test("gateway: a call whose worst case passes the budget is refused unforwarded and the Task stops as BudgetExceeded", async () => {
  const marker = `MARK-gw-budget-${crypto.randomUUID().slice(0, 8)}`;
  const { w, h } = await gatewayAndOperator(marker);
  try {
    // 2,000 tokens: a request asking for up to 4,000 output tokens cannot fit.
    await h.task("capped", { agentRef: "coder", description: "Fix it", budget: { tokens: 2000 } });
    const pod = await podOf(h, "capped");
    const token = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });
    const refused = await call(w, w.provider, token, ask(marker, 4000));
    assert.equal(refused.status, 400, refused.text);
    const error = JSON.parse(refused.text);
    assert.equal(error.type, "error");
    assert.match(
      error.error.message,
      /^KubeTask budget exhausted: Task capped used 0 of 2000 tokens/,
    );
    assert.equal(w.model.requests.filter((r) => r.marker === marker).length, 0, "not forwarded");
    const stopping = await eventually("the Task stopping for its budget", async () => {
      const t = await h.get("Task", "capped");
      return condition(t, "Succeeded")?.reason === "Stopping" && t;
    });
    assert.match(stopping.status.usage.budgetExceeded, /KubeTask budget exhausted/);
    assert.match(condition(stopping, "Succeeded").message, /KubeTask budget exhausted/);
  } finally {
    await h.cleanup();
    await w.close();
  }
});
