// A namespace's daily budget on a real apiserver (agent pods on the kwok node):
// the gateway adds what a Task's calls cost to the namespace's NamespaceBudget
// status; once that spend has reached the day's limit, a gateway started
// afresh (knowing only that status) refuses the namespace's next call unforwarded (the CLI's budget error, the Task
// stopped) and the operator keeps a new Task Queued (BudgetExhausted, with an
// Event) until the budget allows it again (here: the platform raises it; the
// UTC reset is the unit tests').
import assert from "assert";
import { eventually, kubectl } from "../env.ts";
import { AGENT_SA, condition, type Json } from "../task/harness.ts";
import { startGatewayOnApi } from "../../../gateway/main.ts";
import { createLogger } from "../../../controllers/runtime/log.ts";
import { ask, AUDIENCE, call, gatewayAndOperator, mintToken, podOf } from "./world.ts";

const budgetOf = async (ns: string): Promise<Json> =>
  JSON.parse(await kubectl(["get", "namespacebudget", ns, "-o", "json"]));

const setDailyLimit = (ns: string, costUSD: string) =>
  kubectl([
    "patch",
    "namespacebudget",
    ns,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { daily: { costUSD } } }),
  ]);

Deno.test("namespace budget: the gateway counts a namespace's spend durably; at the daily limit its next call is refused and a new Task stays Queued", async () => {
  const marker = `MARK-nsb-${crypto.randomUUID().slice(0, 8)}`;
  const { w, h } = await gatewayAndOperator(marker);
  try {
    // The platform's limit for the test namespace (cluster-scoped, named after it).
    await kubectl(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "kubetask.io/v1alpha1",
        kind: "NamespaceBudget",
        metadata: { name: h.ns },
        spec: { daily: { costUSD: "1" } },
      }),
    );
    await h.task("first", { agentRef: "coder", description: "Fix it" });
    const pod = await podOf(h, "first");
    const token = await mintToken(h.ns, AGENT_SA, {
      audience: AUDIENCE,
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
    });
    const ok = await call(w, w.provider, token, ask(marker));
    assert.equal(ok.status, 200, ok.text);

    // The spend reaches the NamespaceBudget's status, exactly what the model server reported.
    const served = w.model.usage(marker);
    const cost = (served.inputTokens * 3 + served.outputTokens * 15) / 1e6;
    const counted = await eventually("the day's spend in the NamespaceBudget", async () => {
      const b = await budgetOf(h.ns);
      return b.status?.daily?.requests === 1 && b;
    });
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(counted.status.daily.periodStart, `${today}T00:00:00Z`);
    assert.ok(
      Math.abs(Number(counted.status.daily.costUSD) - cost) < 1e-9,
      JSON.stringify(counted),
    );
    assert.equal(counted.status.daily.tokens, served.inputTokens + served.outputTokens);
    assert.equal(counted.status.monthly.costUSD, counted.status.daily.costUSD);

    // A limit with room for the next call's worst case, but not on top of what was spent: a
    // gateway started afresh (as after a restart: it knows only what the NamespaceBudget's
    // status counted) refuses the running Task's next call unforwarded; the Task is stopped.
    const worstNano = new TextEncoder().encode(JSON.stringify(ask(marker))).length * 3000 +
      200 * 15_000;
    const roomMicro = Math.ceil(worstNano / 1000) + 1;
    assert.ok(Number(counted.status.daily.costUSD) * 1e6 > 1, "spent more than the slack");
    await setDailyLimit(h.ns, (roomMicro / 1e6).toFixed(6));
    const dir = await Deno.makeTempDir({ prefix: "gateway-restarted-" });
    const restarted = await startGatewayOnApi({
      transport: w.transport,
      namespace: w.namespace,
      audience: AUDIENCE,
      log: createLogger({ level: "error" }),
      server: { hostname: "127.0.0.1", port: 0, transcriptDir: dir, usageFlushIntervalMs: 300 },
    });
    const refused = await call({ ...w, gateway: restarted }, w.provider, token, ask(marker))
      .finally(async () => {
        await restarted.close();
        await Deno.remove(dir, { recursive: true });
      });
    assert.equal(refused.status, 400, refused.text);
    assert.match(
      JSON.parse(refused.text).error.message,
      new RegExp(
        `^KubeTask budget exhausted: namespace ${h.ns} used \\$0\\.\\d+ of \\$${
          (roomMicro / 1e6).toFixed(6).replace(/0+$/, "").replace(".", "\\.")
        } today`,
      ),
    );
    assert.equal(w.model.requests.filter((r) => r.marker === marker).length, 1, "not forwarded");
    let last: Json;
    await eventually("the running Task stopping for the namespace's budget", async () => {
      const t = last = await h.get("Task", "first");
      // Stopping, or already ended: kwok ends the stopped pod at once.
      const reason = condition(t, "Succeeded")?.reason;
      return (reason === "Stopping" || reason === "BudgetExceeded") &&
        /namespace .* today/.test(t.status?.usage?.budgetExceeded ?? "");
    }).catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(last?.status)}`);
    });

    // The platform lowers the day's limit below what was spent: the namespace is over it.
    await setDailyLimit(h.ns, "0.000001");

    // A new Task waits, and says why.
    await h.task("next", { agentRef: "coder", description: "Fix it too" });
    const queued = await eventually("the new Task Queued for the namespace's budget", async () => {
      const t = await h.get("Task", "next");
      return condition(t, "Ready")?.reason === "BudgetExhausted" && t;
    });
    assert.equal(queued.status.phase, "Queued");
    assert.match(
      condition(queued, "Ready").message,
      new RegExp(
        `^namespace "${h.ns}" used \\$0\\.\\d+ of \\$0\\.000001 today \\(daily budget\\) of ` +
          `NamespaceBudget "${h.ns}": this Task starts when it resets at \\d{4}-\\d\\d-\\d\\dT00:00:00Z$`,
      ),
    );
    assert.equal(queued.status.jobName, undefined, "no Job");
    const events = JSON.parse(
      await kubectl([
        "get",
        "events",
        "-n",
        h.ns,
        "--field-selector",
        "involvedObject.name=next,reason=BudgetExhausted",
        "-o",
        "json",
      ]),
    ).items;
    assert.equal(events.length, 1, "one BudgetExhausted Event");
    assert.equal(events[0].type, "Warning");

    // Raised again: the waiting Task starts (the budget's change wakes it, no polling).
    await setDailyLimit(h.ns, "1");
    await eventually("the queued Task started", async () => {
      const t = await h.get("Task", "next");
      return t?.status?.jobName && t.status.phase !== "Queued";
    });
  } finally {
    await kubectl(["delete", "namespacebudget", h.ns, "--ignore-not-found"]);
    await h.cleanup();
    await w.close();
  }
});
